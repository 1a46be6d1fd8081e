// The API reference (issue 13): `npm run docs` builds it from the TSDoc comments with TypeDoc,
// and this runs the same build so CI fails on any warning (typedoc.json: treatWarningsAsErrors).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');

it('builds the API reference of every public package with no warning', async () => {
  const out = await mkdtemp(join(tmpdir(), 'lifeline-reference-'));
  try {
    const typedoc = join(ROOT, 'node_modules', '.bin', 'typedoc');
    const { stdout, stderr } = await run(typedoc, ['--out', out], { cwd: ROOT, timeout: 150_000 });
    expect(`${stdout}${stderr}`).not.toMatch(/warning|error/i);
    const modules = await readdir(join(out, 'modules'));
    for (const name of ['_lifeline_sdk.html', '_lifeline_server.html', '_lifeline_protocol.html']) expect(modules).toContain(name);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
