// The dashboard page: polls /api/metrics and draws two inline SVG charts, no framework.
// Every drawn series carries `data-series` (and every reconnect line `data-marker="reconnect"`)
// so the browser test can check what is on the page.

const POLL_MS = 500;
const RETRY_MS = 2_000;
const FETCH_TIMEOUT_MS = 2_000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 360;
const M = { top: 40, right: 24, bottom: 48, left: 62 };
const X0 = M.left;
const X1 = W - M.right;
const Y0 = H - M.bottom; // bottom of the plot area
const Y1 = M.top; // top
const COLORS = { ack: '#2563eb', wire: '#059669', delivery: '#d97706', p50: '#2563eb', p99: '#db2777', reconnect: '#dc2626' };
/** Percentiles of a snapshot, in the order drawn. */
const PERCENTILES = [
  { key: 'p50', p: 50 },
  { key: 'p90', p: 90 },
  { key: 'p99', p: 99 },
  { key: 'p999', p: 99.9 },
];

const logY = /** @type {HTMLInputElement} */ (document.getElementById('log-y'));
let last = null;
logY.addEventListener('change', () => last && render(last));

/** An SVG element; string children become text. */
function el(name, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

const fmtMs = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
const fmtTick = (v) => String(+v.toPrecision(3));
const fmtInt = (v) => Math.round(v).toLocaleString('en-US');
const round = (v) => Math.round(v * 10) / 10;

/** The largest 1-2-5 step ≤ v (down) or the smallest ≥ v (up). */
function nice125(v, up) {
  const decade = 10 ** Math.floor(Math.log10(v));
  const steps = [1, 2, 5, 10].map((s) => s * decade);
  return up ? steps.find((s) => s >= v * (1 - 1e-9)) : [...steps].reverse().find((s) => s <= v * (1 + 1e-9));
}

/** A y scale over the given values: log (1-2-5 bounds) or linear from 0, with its ticks. */
function yScale(values, log) {
  const positive = values.filter((v) => Number.isFinite(v) && v > 0);
  if (log) {
    const lo = positive.length ? nice125(Math.min(...positive), false) : 0.1;
    // 30 % headroom above the largest value, for the labels drawn over the points.
    let hi = positive.length ? nice125(Math.max(...positive) * 1.3, true) : 10;
    if (hi <= lo) hi = lo * 10;
    const a = Math.log10(lo);
    const b = Math.log10(hi);
    const map = (v) => Y0 - ((Math.log10(Math.max(v, lo)) - a) / (b - a)) * (Y0 - Y1);
    const ticks = [];
    const decades = b - a;
    for (let d = Math.floor(a); d <= Math.ceil(b) && ticks.length < 40; d++) {
      for (const s of decades > 3 ? [1] : decades > 1.5 ? [1, 5] : [1, 2, 5]) {
        const t = s * 10 ** d;
        if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push(t);
      }
    }
    return { map, ticks, lo };
  }
  const hi = positive.length ? Math.max(...positive) : 1;
  const step = nice125(hi / 5, true);
  const top = Math.ceil(hi / step) * step;
  const map = (v) => Y0 - (Math.max(v, 0) / top) * (Y0 - Y1);
  const ticks = [];
  for (let t = 0; t <= top + step / 2 && ticks.length < 20; t += step) ticks.push(+t.toPrecision(6));
  return { map, ticks, lo: 0 };
}

/** Horizontal grid lines and y tick labels, the plot frame, and the y axis title. */
function frame(svg, y, yTitle) {
  const g = el('g');
  for (const t of y.ticks) {
    const py = round(y.map(t));
    g.append(el('line', { class: 'grid', x1: X0, x2: X1, y1: py, y2: py }));
    g.append(el('text', { x: X0 - 8, y: py + 4, 'text-anchor': 'end' }, fmtTick(t)));
  }
  g.append(el('line', { class: 'axis', x1: X0, x2: X0, y1: Y1, y2: Y0 }));
  g.append(el('line', { class: 'axis', x1: X0, x2: X1, y1: Y0, y2: Y0 }));
  const cy = (Y0 + Y1) / 2;
  g.append(el('text', { class: 'axis-title', x: 16, y: cy, transform: `rotate(-90 16 ${cy})`, 'text-anchor': 'middle' }, yTitle));
  svg.append(g);
}

/** A legend row at the top of the plot: [{ label, color, dash? }]. */
function legend(svg, items) {
  const g = el('g', { class: 'legend' });
  let x = X0;
  for (const item of items) {
    g.append(el('line', { x1: x, x2: x + 22, y1: 18, y2: 18, stroke: item.color, 'stroke-width': 2.5, 'stroke-dasharray': item.dash }));
    const text = el('text', { x: x + 28, y: 22 }, item.label);
    g.append(text);
    x += 40 + item.label.length * 6.6;
  }
  svg.append(g);
}

function emptyNote(svg, text) {
  svg.append(el('text', { class: 'empty', x: (X0 + X1) / 2, y: (Y0 + Y1) / 2, 'text-anchor': 'middle' }, text));
}

/** (a) The HDR percentile plot of the current window: x = −log10(1 − p), y = latency. */
function drawPercentiles(svg, data) {
  svg.replaceChildren();
  const series = [
    { name: 'ack', label: 'send → ack', summary: data.client.ackLatency, color: COLORS.ack },
    { name: 'wire', label: 'wire (ack − queue)', summary: data.client.wireLatency, color: COLORS.wire },
    { name: 'delivery', label: 'push delivery', summary: data.client.deliveryLatency, color: COLORS.delivery },
  ].filter((s) => s.summary.count > 0);
  const ack = data.client.ackLatency;
  const y = yScale(series.flatMap((s) => [...PERCENTILES.map(({ key }) => s.summary[key]), s.summary.max]), logY.checked);
  const nines = (p) => -Math.log10(1 - p / 100);
  const [n0, n1] = [nines(50), nines(99.9) + 0.12];
  const x = (p) => X0 + ((nines(p) - n0) / (n1 - n0)) * (X1 - X0 - 10);
  frame(svg, y, 'latency (ms)');
  for (const p of [50, 75, 90, 95, 99, 99.5, 99.9]) {
    const px = round(x(p));
    const major = p === 50 || p === 90 || p === 99 || p === 99.9;
    svg.append(el('line', { class: 'grid', x1: px, x2: px, y1: Y1, y2: Y0, 'stroke-dasharray': major ? undefined : '2 3' }));
    svg.append(el('text', { x: px, y: Y0 + 16, 'text-anchor': 'middle' }, `${p}%`));
  }
  svg.append(el('text', { class: 'axis-title', x: (X0 + X1) / 2, y: H - 8, 'text-anchor': 'middle' }, 'percentile (log scale of 1 / (1 − p))'));
  if (series.length === 0) {
    emptyNote(svg, 'waiting for the first acks…');
    return;
  }
  if (ack.count > 0) {
    const py = round(y.map(ack.max));
    svg.append(el('line', { 'data-series': 'ack-max', x1: X0, x2: X1, y1: py, y2: py, stroke: COLORS.ack, 'stroke-width': 1, 'stroke-dasharray': '6 4', opacity: 0.6 }));
    svg.append(el('text', { class: 'value-label', x: X0 + 6, y: py - 5 }, `send → ack max ${fmtMs(ack.max)} ms`));
  }
  for (const s of series) {
    const pts = PERCENTILES.map(({ key, p }) => [round(x(p)), round(y.map(s.summary[key])), key, s.summary[key]]);
    svg.append(
      el('polyline', {
        'data-series': `${s.name}-percentiles`,
        points: pts.map(([px, py]) => `${px},${py}`).join(' '),
        fill: 'none',
        stroke: s.color,
        'stroke-width': 2.5,
        'stroke-linejoin': 'round',
      }),
    );
    for (const [px, py, key, v] of pts) {
      svg.append(el('circle', { cx: px, cy: py, r: 3.5, fill: s.color }, el('title', {}, `${s.label} ${key}: ${fmtMs(v)} ms`)));
      if (s.name === 'ack') svg.append(el('text', { class: 'value-label', x: px + 6, y: py - 7 }, fmtMs(v)));
    }
  }
  legend(
    svg,
    series.map((s) => ({ label: `${s.label} (${fmtInt(s.summary.count)})`, color: s.color })),
  );
}

/** (b) p50 and p99 of each sample over time, with a vertical line at every reconnect. */
function drawTimeline(svg, data) {
  svg.replaceChildren();
  const samples = data.series.filter((s) => s.ack.count > 0);
  const end = data.series.at(-1)?.t ?? data.now;
  const spanMs = Math.max(30_000, end - (data.series[0]?.t ?? end));
  const start = end - spanMs;
  const x = (t) => X0 + ((t - start) / spanMs) * (X1 - X0);
  const y = yScale(samples.flatMap((s) => [s.ack.p50, s.ack.p99]), logY.checked);
  svg.setAttribute('data-history-ms', String(samples.length ? samples.at(-1).t - samples[0].t : 0));
  frame(svg, y, 'latency (ms)');
  const stepS = spanMs <= 40_000 ? 5 : spanMs <= 90_000 ? 15 : 30;
  for (let s = 0; s * 1000 <= spanMs && s < 200; s += stepS) {
    const px = round(x(end - s * 1000));
    svg.append(el('line', { class: 'axis', x1: px, x2: px, y1: Y0, y2: Y0 + 4 }));
    svg.append(el('text', { x: px, y: Y0 + 16, 'text-anchor': 'middle' }, s === 0 ? 'now' : `−${s} s`));
  }
  svg.append(el('text', { class: 'axis-title', x: (X0 + X1) / 2, y: H - 8, 'text-anchor': 'middle' }, 'time'));
  for (const m of data.reconnects) {
    if (m.t < start) continue;
    const px = round(x(m.t));
    const down = m.downtimeMs === undefined ? 'still down' : `down ${m.downtimeMs} ms`;
    const replayed = m.replayed === undefined ? '' : `, ${m.replayed} replayed`;
    svg.append(
      el(
        'line',
        { 'data-marker': 'reconnect', 'data-t': m.t, x1: px, x2: px, y1: Y1, y2: Y0, stroke: COLORS.reconnect, 'stroke-width': 1.5, 'stroke-dasharray': '4 3', opacity: 0.75 },
        el('title', {}, `reconnect at ${new Date(m.t).toLocaleTimeString()}: ${m.reason}, ${down}${replayed}`),
      ),
    );
  }
  if (samples.length === 0) {
    emptyNote(svg, 'waiting for the first acks…');
  } else {
    for (const key of ['p50', 'p99']) {
      svg.append(
        el('polyline', {
          'data-series': key,
          points: samples.map((s) => `${round(x(s.t))},${round(y.map(s.ack[key]))}`).join(' '),
          fill: 'none',
          stroke: COLORS[key],
          'stroke-width': 2.5,
          'stroke-linejoin': 'round',
        }),
      );
    }
  }
  legend(svg, [
    { label: 'p50 send → ack', color: COLORS.p50 },
    { label: 'p99 send → ack', color: COLORS.p99 },
    { label: `reconnect (${data.reconnects.length})`, color: COLORS.reconnect, dash: '4 3' },
  ]);
}

function drawTiles(data) {
  const c = data.client;
  const failed = Object.values(c.failed).reduce((a, b) => a + b, 0);
  const tiles = [
    ['sent', fmtInt(c.sent)],
    ['acked', fmtInt(c.acked)],
    ['failed', fmtInt(failed)],
    ['retransmitted', fmtInt(c.retransmitted)],
    ['reconnects', fmtInt(c.reconnects)],
    ['resumes', fmtInt(c.resumes)],
    ['pushes received', fmtInt(c.delivered)],
    ['p99 send → ack', c.ackLatency.count > 0 ? `${fmtMs(c.ackLatency.p99)} ms` : '–'],
    ['max downtime', c.reconnectDowntime.count > 0 ? `${fmtMs(c.reconnectDowntime.max)} ms` : '–'],
  ];
  document.getElementById('tiles').replaceChildren(
    ...tiles.map(([label, value]) => {
      const div = document.createElement('div');
      div.className = 'tile';
      div.dataset.tile = label;
      div.innerHTML = '<div class="label"></div><div class="value"></div>';
      div.firstChild.textContent = label;
      div.lastChild.textContent = value;
      return div;
    }),
  );
}

function setStatus(state, text) {
  const status = document.getElementById('status');
  const pill = document.createElement('span');
  pill.className = `state ${state}`;
  pill.textContent = state;
  status.replaceChildren('client ', pill, ` · ${text}`);
}

function render(data) {
  last = data;
  document.getElementById('window-note').textContent = `(send → ack, last ${data.windowMs / 1000} s)`;
  drawTiles(data);
  drawPercentiles(document.getElementById('percentiles'), data);
  drawTimeline(document.getElementById('timeline'), data);
  const cuts = data.cutEveryMs > 0 ? `proxy cuts every ${data.cutEveryMs / 1000} s` : 'no cuts';
  setStatus(data.state, `${data.ratePerSec} msg/s · ${cuts} · ${data.proxy.cuts} cut so far · updated ${new Date(data.now).toLocaleTimeString()}`);
}

async function poll() {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  let next = POLL_MS;
  try {
    const res = await fetch('/api/metrics', { signal: abort.signal, cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    render(await res.json());
  } catch (error) {
    next = RETRY_MS;
    setStatus('error', `dashboard server unreachable (${error.message}); retrying`);
  } finally {
    clearTimeout(timer);
    setTimeout(poll, next);
  }
}

poll();
