import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { alias } from '../../../vitest.shared.js';

/**
 * docs/api.md lists every name of every entry point; this keeps the page and the code the same,
 * and keeps internals out of the public entries (issue 10). Exported names are read with the
 * compiler (types included), then checked at runtime through the same aliases the tests use.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));

interface Entry {
  readonly specifier: string;
  readonly source: string;
  readonly conditions: readonly string[];
}

/** Every entry point of every package, from the `exports` maps. */
function entries(): Entry[] {
  const out: Entry[] = [];
  for (const dir of readdirSync(`${root}packages`)) {
    const pkg = JSON.parse(readFileSync(`${root}packages/${dir}/package.json`, 'utf8')) as { name: string; exports: Record<string, unknown> };
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue;
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      const source = alias[specifier];
      if (source === undefined) throw new Error(`${specifier} has no alias in vitest.shared.ts`);
      out.push({ specifier, source, conditions: Object.keys(target as object) });
    }
  }
  return out;
}

/** Names each section of docs/api.md lists: a table row's first cell, or the names of a `- From` line. */
function documented(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let names: string[] | undefined;
  for (const line of readFileSync(`${root}docs/api.md`, 'utf8').split('\n')) {
    const heading = /^#{2,3} `(@lifeline\/[\w/-]+)`/.exec(line);
    if (heading) sections.set(heading[1] as string, (names = []));
    else if (line.startsWith('#')) names = undefined;
    else if (names === undefined) continue;
    else if (line.startsWith('| `')) names.push((/^\| `([\w$]+)`/.exec(line) as RegExpExecArray)[1] as string);
    else if (line.startsWith('- From ')) for (const [, n] of line.matchAll(/`([A-Za-z_$][\w$]*)`/g)) names.push(n as string);
  }
  return sections;
}

const all = entries();
const config = ts.getParsedCommandLineOfConfigFile(`${root}tsconfig.json`, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
if (config === undefined) throw new Error('tsconfig.json did not parse');
const program = ts.createProgram(all.map((e) => e.source), config.options);
const checker = program.getTypeChecker();

/** Every exported name of a source entry, and whether it is a value (there at runtime). */
function exported(source: string): { names: string[]; values: string[] } {
  const module = checker.getSymbolAtLocation(program.getSourceFile(source) as ts.SourceFile) as ts.Symbol;
  const names: string[] = [];
  const values: string[] = [];
  for (const symbol of checker.getExportsOfModule(module)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    names.push(symbol.name);
    if (target.flags & ts.SymbolFlags.Value) values.push(symbol.name);
  }
  return { names: names.sort(), values: values.sort() };
}

describe('public surface (docs/api.md)', () => {
  const docs = documented();

  it.each(all.map((e) => [e.specifier, e] as const))('%s exports exactly what docs/api.md lists', async (specifier, entry) => {
    const { names, values } = exported(entry.source);
    expect(docs.has(specifier), `docs/api.md has no section for ${specifier}`).toBe(true);
    expect(names).toEqual([...(docs.get(specifier) as string[])].sort());
    const loaded = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
    expect(Object.keys(loaded).sort()).toEqual(values);
  });

  it('documents no entry point that does not exist', () => {
    expect([...docs.keys()].sort()).toEqual(all.map((e) => e.specifier).sort());
  });

  it('keeps internals out of the public entries, and ./internal entries ESM only', () => {
    const internals = all.filter((e) => e.specifier.endsWith('/internal'));
    expect(internals.map((e) => e.specifier).sort()).toEqual(['@lifeline/protocol/internal', '@lifeline/transport/internal']);
    for (const internal of internals) {
      const main = all.find((e) => e.specifier === internal.specifier.replace(/\/internal$/, '')) as Entry;
      const shared = exported(internal.source).names.filter((n) => exported(main.source).names.includes(n));
      expect(shared, `${internal.specifier} repeats public names`).toEqual([]);
      expect(internal.conditions).toEqual(['types', 'import']);
    }
    // The tsconfig paths resolve every entry too, subpaths before their package.
    const paths = Object.keys(config.options.paths ?? {});
    for (const { specifier } of all) expect(paths, specifier).toContain(specifier);
  });
});
