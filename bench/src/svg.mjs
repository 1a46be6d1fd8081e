/** The two charts, written by hand as SVG strings (no charting dependency). */
import { runsTask } from './peers/index.mjs';

export const COLORS = ['#6b7280', '#2563eb', '#d97706', '#dc2626', '#059669', '#a16207', '#7c3aed', '#db2777'];
export const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

export const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (x) => Math.round(x).toLocaleString('en-US');

/** Horizontal bars, one per peer, with the raw ws value as a dashed reference line. */
export function throughputSvg(doc) {
  // Colours follow each peer's place among all peers, as in the latency chart.
  const rows = doc.peers
    .map((p, i) => ({ label: p.label, value: p.perf.median?.throughput, ratio: p.perf.ratio.throughput, color: COLORS[i % COLORS.length], failed: !p.perf.median, runs: runsTask(p, 'perf') }))
    .filter((r) => r.runs);
  const max = Math.max(1, ...rows.map((r) => r.value ?? 0));
  const left = 190;
  const barMax = 420;
  const rowH = 30;
  const top = 48;
  const width = left + barMax + 170;
  const height = top + rows.length * rowH + 30;
  const ref = rows[0]?.value;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="600">Pipelined acknowledged throughput (msg/s, ${fmt(doc.config.window)} outstanding)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 10}" y="${y + 15}" text-anchor="end">${esc(r.label)}</text>`);
    if (r.failed) {
      parts.push(`<text x="${left + 4}" y="${y + 15}" fill="#9ca3af">not measured</text>`);
      return;
    }
    const w = Math.max(1, (r.value / max) * barMax);
    const ratio = r.ratio === undefined ? '' : ` · ${r.ratio.toFixed(2)}×`;
    parts.push(`<rect x="${left}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 10}" rx="2" fill="${r.color}"/>`);
    parts.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 15}" fill="#111827">${fmt(r.value)}${ratio}</text>`);
  });
  if (ref) {
    const x = left + (ref / max) * barMax;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 6}" x2="${x.toFixed(1)}" y2="${top + rows.length * rowH}" stroke="#111827" stroke-dasharray="4 3" stroke-width="1"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#374151" font-size="11">raw ws</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}

/** Latency percentile curves: x is the percentile on a 1/(1−p) log axis, y is µs on a log axis. */
export function latencySvg(doc) {
  const series = doc.peers
    .map((p, i) => ({ label: p.label, curve: p.perf.median?.latency.curve, color: COLORS[i % COLORS.length] }))
    .filter((s) => s.curve?.length);
  const width = 780;
  const height = 420;
  const plot = { x: 70, y: 40, w: 470, h: 320 };
  const xOf = (p) => Math.log10(1 / (1 - p / 100));
  const values = series.flatMap((s) => s.curve.map(([, v]) => v)).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.max(1, Math.min(...values, 10))));
  const hi = Math.ceil(Math.log10(Math.max(...values, 100)));
  const ps = series[0]?.curve.map(([p]) => p) ?? [50, 90, 99, 99.9];
  const x0 = xOf(ps[0]);
  const x1 = xOf(ps[ps.length - 1]);
  const px = (p) => plot.x + ((xOf(p) - x0) / (x1 - x0 || 1)) * plot.w;
  const py = (v) => plot.y + plot.h - ((Math.log10(Math.max(v, 1)) - lo) / (hi - lo || 1)) * plot.h;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="600">Sequential ack latency by percentile (µs, log scale; ${fmt(doc.config.latencyMessages)} round trips)</text>`,
  ];
  for (let d = lo; d <= hi; d++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** d;
      if (Math.log10(v) > hi) break;
      const y = py(v);
      parts.push(`<line x1="${plot.x}" y1="${y.toFixed(1)}" x2="${plot.x + plot.w}" y2="${y.toFixed(1)}" stroke="${m === 1 ? '#d1d5db' : '#f0f1f3'}"/>`);
      parts.push(`<text x="${plot.x - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#4b5563">${fmt(v)}</text>`);
    }
  }
  for (const p of ps) {
    const x = px(p);
    parts.push(`<line x1="${x.toFixed(1)}" y1="${plot.y}" x2="${x.toFixed(1)}" y2="${plot.y + plot.h}" stroke="#f0f1f3"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${plot.y + plot.h + 16}" text-anchor="middle" fill="#4b5563">p${p}</text>`);
  }
  parts.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#9ca3af"/>`);
  parts.push(`<text x="${plot.x + plot.w / 2}" y="${height - 16}" text-anchor="middle" fill="#374151">percentile</text>`);
  series.forEach((s, i) => {
    const pts = s.curve.map(([p, v]) => `${px(p).toFixed(1)},${py(v).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [p, v] of s.curve) parts.push(`<circle cx="${px(p).toFixed(1)}" cy="${py(v).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    const ly = plot.y + 8 + i * 22;
    const lx = plot.x + plot.w + 20;
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 28}" y="${ly + 4}">${esc(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
