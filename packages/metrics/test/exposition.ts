/**
 * A small checker for the Prometheus text exposition format (0.0.4), enough to hold our output
 * and prom-client's to the rules a scraper relies on.
 */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface Parsed {
  readonly help: Map<string, string>;
  readonly type: Map<string, string>;
  readonly samples: ParsedSample[];
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

export function parseExposition(text: string): Parsed {
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  const samples: ParsedSample[] = [];
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
      if (m === null) throw new Error(`bad comment line: ${line}`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (kind === 'TYPE' && !['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) {
        throw new Error(`bad type: ${line}`);
      }
      (kind === 'HELP' ? help : type).set(name, rest);
      continue;
    }
    const m = sampleLine.exec(line);
    if (m === null) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText = '', valueText] = m as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    labelPair.lastIndex = 0;
    while (labelPair.lastIndex < labelText.length) {
      const start = labelPair.lastIndex;
      const l = labelPair.exec(labelText);
      if (l === null || l.index !== start) throw new Error(`bad labels: ${line}`);
      labels[l[1] as string] = (l[2] as string).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (valueText !== 'NaN' && Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    samples.push({ name, labels, value });
  }
  return { help, type, samples };
}

/** The family a sample belongs to (histogram samples carry a suffix). */
export function familyOf(parsed: Parsed, name: string): string {
  for (const suffix of ['_bucket', '_sum', '_count', '_total']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && parsed.type.has(base)) return base;
  }
  return name;
}

/**
 * Checks: every sample has HELP and TYPE for its family; histogram buckets, per label set, have
 * increasing `le`, cumulative counts, a final `+Inf` equal to `_count`, and a `_sum`.
 */
export function checkExposition(text: string): Parsed {
  const parsed = parseExposition(text);
  const series = new Map<string, { le: number; value: number }[]>();
  const counts = new Map<string, number>();
  const sums = new Set<string>();
  for (const s of parsed.samples) {
    const family = familyOf(parsed, s.name);
    if (!parsed.help.has(family)) throw new Error(`no HELP for ${s.name}`);
    if (!parsed.type.has(family)) throw new Error(`no TYPE for ${s.name}`);
    if (parsed.type.get(family) !== 'histogram') continue;
    const { le, ...rest } = s.labels;
    const key = `${family}${JSON.stringify(Object.entries(rest).sort())}`;
    if (s.name === `${family}_bucket`) {
      if (le === undefined) throw new Error(`bucket without le: ${s.name}`);
      const list = series.get(key) ?? [];
      list.push({ le: le === '+Inf' ? Infinity : Number(le), value: s.value });
      series.set(key, list);
    } else if (s.name === `${family}_count`) counts.set(key, s.value);
    else if (s.name === `${family}_sum`) sums.add(key);
  }
  for (const [key, buckets] of series) {
    for (let i = 1; i < buckets.length; i++) {
      const [prev, cur] = [buckets[i - 1], buckets[i]] as [{ le: number; value: number }, { le: number; value: number }];
      if (!(cur.le > prev.le)) throw new Error(`le not increasing in ${key}`);
      if (cur.value < prev.value) throw new Error(`buckets not cumulative in ${key}`);
    }
    const last = buckets[buckets.length - 1];
    if (last?.le !== Infinity) throw new Error(`no +Inf bucket in ${key}`);
    if (counts.get(key) !== last.value) throw new Error(`+Inf bucket ≠ _count in ${key}`);
    if (!sums.has(key)) throw new Error(`no _sum in ${key}`);
  }
  return parsed;
}

/** Samples as `name{sorted labels}` → value, for comparing two expositions. */
export function sampleMap(parsed: Parsed): Map<string, number> {
  return new Map(
    parsed.samples.map((s) => [`${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`, s.value] as const),
  );
}
