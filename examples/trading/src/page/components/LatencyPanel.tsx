// The latency dashboard beside the desk: this page's own metrics plugin (send → ack of orders,
// snapshots and queries; delivery of the exchange's pushes), drawn as examples/dashboard draws
// it: an HDR percentile plot, x = −log10(1 − p), on a log y axis, and the counters as tiles.
import { useEffect, useState } from 'react';
import type { LatencySummary, Metrics, MetricsSnapshot } from '@lifeline/metrics';

const REFRESH_MS = 1_000;
const W = 360;
const H = 200;
const M = { top: 16, right: 12, bottom: 28, left: 44 };
const PERCENTILES = [
  { key: 'p50', p: 50 },
  { key: 'p90', p: 90 },
  { key: 'p99', p: 99 },
  { key: 'p999', p: 99.9 },
] as const;
const nines = (p: number): number => -Math.log10(1 - p / 100);
const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

function Plot({ series }: { series: ReadonlyArray<{ name: string; summary: LatencySummary; color: string }> }) {
  const drawn = series.filter((s) => s.summary.count > 0);
  const values = drawn.flatMap((s) => PERCENTILES.map(({ key }) => s.summary[key])).filter((v) => v > 0);
  const lo = Math.log10(Math.max(0.01, Math.min(...values, 1) * 0.8));
  const hi = Math.log10(Math.max(...values, 10) * 1.3);
  const x = (p: number): number => M.left + ((nines(p) - nines(50)) / (nines(99.9) - nines(50))) * (W - M.left - M.right);
  const y = (v: number): number => H - M.bottom - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (H - M.top - M.bottom);
  const ticks = [0.1, 1, 10, 100, 1_000, 10_000].filter((t) => Math.log10(t) >= lo && Math.log10(t) <= hi);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="plot" data-chart="percentiles">
      {ticks.map((t) => (
        <g key={t}>
          <line className="grid" x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
          <text x={M.left - 6} y={y(t) + 4} textAnchor="end">
            {t}
          </text>
        </g>
      ))}
      {PERCENTILES.map(({ p }) => (
        <text key={p} x={x(p)} y={H - 10} textAnchor="middle">
          {p}%
        </text>
      ))}
      <text x={12} y={M.top + 4} className="axis-title">
        ms
      </text>
      {drawn.length === 0 && (
        <text x={W / 2} y={H / 2} textAnchor="middle" className="empty">
          waiting for the first acks…
        </text>
      )}
      {drawn.map((s) => (
        <g key={s.name}>
          <polyline
            data-series={s.name}
            points={PERCENTILES.map(({ key, p }) => `${x(p).toFixed(1)},${y(s.summary[key]).toFixed(1)}`).join(' ')}
            fill="none"
            stroke={s.color}
            strokeWidth={2.5}
          />
          {PERCENTILES.map(({ key, p }) => (
            <circle key={key} cx={x(p)} cy={y(s.summary[key])} r={3} fill={s.color}>
              <title>{`${s.name} ${key}: ${fmtMs(s.summary[key])} ms`}</title>
            </circle>
          ))}
        </g>
      ))}
    </svg>
  );
}

export function LatencyPanel({ metrics }: { metrics: Metrics }) {
  const [snap, setSnap] = useState<MetricsSnapshot>(() => metrics.snapshot({ side: 'client' }));
  useEffect(() => {
    const timer = setInterval(() => setSnap(metrics.snapshot({ side: 'client' })), REFRESH_MS);
    return () => clearInterval(timer);
  }, [metrics]);
  const failed = Object.values(snap.failed).reduce((a, b) => a + (b ?? 0), 0);
  const tiles: Array<[string, string]> = [
    ['sent', String(snap.sent)],
    ['acked', String(snap.acked)],
    ['failed', String(failed)],
    ['retransmitted', String(snap.retransmitted)],
    ['reconnects', String(snap.reconnects)],
    ['resumes', String(snap.resumes)],
    ['pushes', String(snap.delivered)],
    ['p99 send → ack', snap.ackLatency.count > 0 ? `${fmtMs(snap.ackLatency.p99)} ms` : '–'],
  ];
  return (
    <section className="panel latency" data-panel="latency">
      <h2>Latency (this page, last {Math.round((snap.windowMs ?? 0) / 1000)} s)</h2>
      <Plot
        series={[
          { name: 'send → ack', summary: snap.ackLatency, color: '#2563eb' },
          { name: 'push delivery', summary: snap.deliveryLatency, color: '#d97706' },
        ]}
      />
      <div className="legend">
        <span style={{ color: '#2563eb' }}>● send → ack ({snap.ackLatency.count})</span>
        <span style={{ color: '#d97706' }}>● push delivery ({snap.deliveryLatency.count})</span>
      </div>
      <div className="tiles">
        {tiles.map(([label, value]) => (
          <div key={label} className="tile" data-tile={label}>
            <div className="label">{label}</div>
            <div className="value">{value}</div>
          </div>
        ))}
      </div>
    </section>
  );
}
