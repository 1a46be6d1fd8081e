import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error -- the dashboard is plain JavaScript, run by `node examples/dashboard/server.mjs`.
import { closeAll, onCleanup } from '@lifeline/test-kit';
import { startDashboard } from '../server.mjs';
import { openPage } from './chromium.js';

/** Written only with LIFELINE_SCREENSHOT=1, so that test runs leave the tree clean. */
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/img/dashboard.png', import.meta.url));
const SCREENSHOT = process.env.LIFELINE_SCREENSHOT === '1';

interface Dashboard {
  url: string;
  close(): Promise<void>;
}

describe('dashboard', () => {
  afterEach(closeAll);

  async function start(options: Record<string, number>): Promise<Dashboard> {
    const dashboard = (await startDashboard(options)) as Dashboard;
    onCleanup(() => dashboard.close());
    return dashboard;
  }

  it('serves the series, the reconnect markers and merged Prometheus text', async () => {
    const dashboard = await start({ cutEveryMs: 300, sampleEveryMs: 100 });
    const deadline = Date.now() + 10_000;
    let data: { series: Array<{ ack: { count: number } }>; reconnects: unknown[] } | undefined;
    while (Date.now() < deadline) {
      const res = await fetch(new URL('/api/metrics', dashboard.url), { signal: AbortSignal.timeout(2_000) });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      data = await res.json();
      if (data!.reconnects.length > 0 && data!.series.filter((s) => s.ack.count > 0).length >= 2) break;
      await new Promise((resolve) => setTimeout(resolve, 100)); // polling an HTTP endpoint, with a deadline
    }
    expect(data!.reconnects.length).toBeGreaterThan(0);
    expect(data!.series.filter((s) => s.ack.count > 0).length).toBeGreaterThanOrEqual(2);

    const text = await (await fetch(new URL('/metrics', dashboard.url), { signal: AbortSignal.timeout(2_000) })).text();
    expect(text).toMatch(/^lifeline_ack_latency_seconds_count\{side="client"\} [1-9]/m);
    expect(text).toMatch(/^lifeline_delivery_latency_seconds_count\{side="server"\} [1-9]/m);
    const types = text.split('\n').filter((line) => line.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length); // each family declared once

    expect((await fetch(new URL('/nope', dashboard.url))).status).toBe(404);
  });

  it(
    'draws the percentile plot and the p50/p99 series with reconnect markers in Chromium',
    async () => {
      // Screenshot runs wait for a longer history, so the picture shows more than a few seconds.
      const dashboard = await start(SCREENSHOT ? { cutEveryMs: 4_000 } : { cutEveryMs: 1_000 });
      const { page, pageErrors } = await openPage();
      await page.goto(dashboard.url, { timeout: 10_000 });

      const minSpanMs = SCREENSHOT ? 28_000 : 0;
      const minMarkers = SCREENSHOT ? 5 : 1;
      await page.waitForFunction(
        ([minSpan, minMarks]) => {
          const points = (series: string) => document.querySelector(`[data-series="${series}"]`)?.getAttribute('points') ?? '';
          const p50 = points('p50').split(' ').filter(Boolean);
          const historyMs = Number(document.querySelector('[data-chart="timeline"]')?.getAttribute('data-history-ms'));
          return (
            p50.length >= 2 &&
            historyMs >= minSpan &&
            points('p99').split(' ').filter(Boolean).length >= 2 &&
            points('ack-percentiles').split(' ').filter(Boolean).length === 4 &&
            document.querySelectorAll('[data-marker="reconnect"]').length >= minMarks
          );
        },
        [minSpanMs, minMarkers] as const,
        { timeout: SCREENSHOT ? 45_000 : 15_000, polling: 100 },
      );

      const drawn = await page.evaluate(() => {
        const pairs = (series: string) =>
          (document.querySelector(`[data-series="${series}"]`)?.getAttribute('points') ?? '')
            .split(' ')
            .filter(Boolean)
            .map((p) => p.split(',').map(Number));
        return {
          p50: pairs('p50'),
          p99: pairs('p99'),
          ack: pairs('ack-percentiles'),
          markers: document.querySelectorAll('[data-marker="reconnect"]').length,
          title: document.querySelector('h1')?.textContent,
          tiles: Object.fromEntries(
            Array.from(document.querySelectorAll<HTMLElement>('[data-tile]')).map((t) => [t.dataset.tile, t.querySelector('.value')?.textContent]),
          ),
        };
      });
      expect(drawn.title).toBe('Lifeline — live latency');
      expect(drawn.markers).toBeGreaterThanOrEqual(minMarkers);
      for (const series of [drawn.p50, drawn.p99, drawn.ack]) {
        expect(series.length).toBeGreaterThanOrEqual(2);
        for (const point of series) expect(point.every(Number.isFinite)).toBe(true);
      }
      // x grows along the percentile plot (50 → 99.9), and p99 is never drawn below p50 (SVG y grows downwards).
      expect(drawn.ack.map(([x]) => x)).toEqual([...drawn.ack.map(([x]) => x)].sort((a, b) => a! - b!));
      expect(drawn.p99.at(-1)![1]).toBeLessThanOrEqual(drawn.p50.at(-1)![1]!);
      expect(Number(drawn.tiles.acked?.replaceAll(',', ''))).toBeGreaterThan(0);

      if (SCREENSHOT) {
        await mkdir(dirname(SCREENSHOT_PATH), { recursive: true });
        await page.setViewportSize({ width: 1280, height: 640 }); // fullPage still takes all of it
        await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
      }
      expect(pageErrors).toEqual([]);
    },
    SCREENSHOT ? 130_000 : 90_000, // Chromium's launch alone is bounded at a minute
  );
});
