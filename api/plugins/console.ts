/**
 * Serves the operations console (built by api/console/build.ts) at /console: its few files are read
 * once at start into memory, compressed once, and answered with a strict Content-Security-Policy
 * (everything from this origin, nothing inline, no frames). The page itself holds no data and needs
 * no key; everything it shows comes from the admin routes, called with the key the operator
 * signs in with (kept in sessionStorage, sent as Bearer, never in a URL).
 *
 * Hashed assets (/console/assets/*) are immutable; index.html is revalidated every time. Without a
 * build the console answers 503 saying how to make one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const CONSOLE_PATH = '/console';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  gzipped: Buffer | undefined;
  type: string;
  etag: string;
  immutable: boolean;
}

export interface ConsoleOptions {
  /** The built console (dist/console from source, console/ beside server.js in the image). */
  dir: string;
}

/** Reads the built console into memory; undefined when there is none. */
async function loadAssets(dir: string): Promise<Map<string, Asset> | undefined> {
  if (!existsSync(path.join(dir, 'index.html'))) return undefined;
  const assets = new Map<string, Asset>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (!entry.name.startsWith('.')) {
        const body = await readFile(full);
        const type = CONTENT_TYPES[path.extname(entry.name)] ?? 'application/octet-stream';
        const relative = path.relative(dir, full).split(path.sep).join('/');
        const compressible = /^(text|application\/json|image\/svg)/.test(type) && body.length > 1024;
        assets.set(relative, {
          body,
          gzipped: compressible ? gzipSync(body) : undefined,
          type,
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          immutable: relative.startsWith('assets/'),
        });
      }
    }
  };
  await walk(dir);
  return assets;
}

export async function consoleRoutes(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const assets = await loadAssets(options.dir);

  const send = (request: FastifyRequest, reply: FastifyReply, asset: Asset) => {
    reply
      .header('content-type', asset.type)
      .header('etag', asset.etag)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (asset.type.startsWith('text/html')) {
      reply
        .header('content-security-policy', CONSOLE_CSP)
        .header('referrer-policy', 'no-referrer')
        .header('x-frame-options', 'DENY');
    }
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
    const gzip = asset.gzipped && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    if (asset.gzipped) reply.header('vary', 'accept-encoding');
    if (gzip) return reply.header('content-encoding', 'gzip').send(asset.gzipped);
    return reply.send(asset.body);
  };

  const page = (request: FastifyRequest, reply: FastifyReply) => {
    const index = assets?.get('index.html');
    if (!index) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The operations console is not built here: run `npm run build:console` (npm start does it).\n');
    }
    return send(request, reply, index);
  };

  const config = { public: true } as const;
  const schema = { hide: true } as const;
  app.get(CONSOLE_PATH, { config, schema }, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 301));
  app.get(`${CONSOLE_PATH}/`, { config, schema }, page);
  app.get(`${CONSOLE_PATH}/*`, { config, schema }, (request, reply) => {
    const file = (request.params as { '*': string })['*'];
    const asset = assets?.get(file);
    // Unknown paths are the page (deep links); unknown assets are 404s.
    if (asset) return send(request, reply, asset);
    if (file.startsWith('assets/')) return reply.code(404).type('text/plain').send('no such asset\n');
    return page(request, reply);
  });
}
