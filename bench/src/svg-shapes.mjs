/** The load-shapes chart: per peer, each shape's throughput as a ratio to raw ws in the same run. */
import { FONT, esc } from './svg.mjs';

const SHAPES = [
  { side: 'local', field: 'burst.perSecond', label: (c) => `1 process, ${c.burstLocal.toLocaleString('en-US')} at once`, color: '#2563eb' },
  { side: 'local', field: 'windowed.perSecond', label: (c) => `1 process, ${c.window.toLocaleString('en-US')} outstanding`, color: '#93c5fd' },
  { side: 'remote', field: 'windowed.perSecond', label: (c) => `2 processes, ${c.window.toLocaleString('en-US')} outstanding`, color: '#d97706' },
  { side: 'remote', field: 'burst.perSecond', label: (c) => `2 processes, ${c.burstRemote.toLocaleString('en-US')} at once`, color: '#fcd34d' },
  { side: 'remote', field: 'burstAgain.perSecond', label: (c) => `2 processes, ${c.burstRemote.toLocaleString('en-US')} at once again`, color: '#fef3c7' },
];

export function shapesSvg(doc) {
  const rows = doc.peers.filter((p) => p.shapes);
  const ratios = rows.flatMap((p) => SHAPES.map((s) => p.shapes[s.side]?.ratio?.[s.field]).filter((x) => Number.isFinite(x)));
  const max = Math.max(1.25, ...ratios);
  const left = 190;
  const barMax = 420;
  const barH = 9;
  const rowH = SHAPES.length * barH + 12;
  const top = 48 + SHAPES.length * 18;
  const width = left + barMax + 90;
  const height = top + rows.length * rowH + 30;
  const xOf = (r) => left + (r / max) * barMax;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="15" font-weight="600">Acked throughput by load shape, × raw ws in the same run</text>`,
  ];
  SHAPES.forEach((s, i) => {
    const y = 40 + i * 18;
    parts.push(`<rect x="${left}" y="${y}" width="14" height="10" fill="${s.color}"/>`);
    parts.push(`<text x="${left + 20}" y="${y + 9}" font-size="12">${esc(s.label(doc.config))}</text>`);
  });
  rows.forEach((p, i) => {
    const y = top + i * rowH;
    parts.push(`<text x="${left - 10}" y="${y + rowH / 2}" text-anchor="end">${esc(p.label)}</text>`);
    SHAPES.forEach((s, j) => {
      const shape = p.shapes[s.side];
      const r = shape?.ratio?.[s.field];
      const by = y + j * barH;
      if (!Number.isFinite(r)) {
        const why = shape?.na ? 'n/a' : shape?.skipped ? 'skipped' : p.key === doc.peers[0].key ? '' : '–';
        if (why) parts.push(`<text x="${left + 4}" y="${by + barH - 1}" font-size="8" fill="#9ca3af">${why}</text>`);
        return;
      }
      const w = Math.max(1, xOf(r) - left);
      parts.push(`<rect x="${left}" y="${by}" width="${w.toFixed(1)}" height="${barH - 1}" fill="${s.color}"/>`);
      parts.push(`<text x="${(left + w + 4).toFixed(1)}" y="${by + barH - 1}" font-size="8" fill="#111827">${r.toFixed(2)}×</text>`);
    });
  });
  const x1 = xOf(1);
  parts.push(`<line x1="${x1.toFixed(1)}" y1="${top - 4}" x2="${x1.toFixed(1)}" y2="${top + rows.length * rowH}" stroke="#111827" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x1.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#374151" font-size="11">1.0× raw ws</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
