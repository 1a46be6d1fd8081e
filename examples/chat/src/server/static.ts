import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile, readdir } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
/** The built page is a few hundred kB; anything near this is not the page. */
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;
// The page loads nothing from elsewhere; its WebSocket is same-origin (`connect-src 'self'` covers ws: in CSP 3).
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

interface File {
  readonly body: Buffer;
  readonly type: string;
}

/**
 * Serves the built page from memory: every file of `dir` is read once at start, so a request
 * names a key of a Map and can never reach outside it (no path resolution per request).
 */
export async function loadStatic(dir: string): Promise<(req: IncomingMessage, res: ServerResponse) => void> {
  const files = new Map<string, File>();
  let total = 0;
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch (error) {
    throw new Error(`the chat page is not built in ${dir} (npm run chat builds it; or npm run build -w @lifeline/example-chat)`, { cause: error });
  }
  for (const path of entries) {
    const body = await readFile(path);
    total += body.length;
    if (total > MAX_TOTAL_BYTES) throw new Error(`${dir} holds more than ${MAX_TOTAL_BYTES} bytes: not a built page`);
    files.set(`/${relative(dir, path).split(sep).join('/')}`, { body, type: TYPES[extname(path)] ?? 'application/octet-stream' });
  }
  const index = files.get('/index.html');
  if (index === undefined) throw new Error(`${dir} has no index.html (npm run build -w @lifeline/example-chat)`);

  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    // Hashed assets never change; the page itself is always fetched fresh.
    const asset = files.get(path);
    const file = asset ?? (path === '/' ? index : undefined);
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': CSP,
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
}
