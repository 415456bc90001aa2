// Demo upstream API for oidc-bff: stands in for the backend services the BFF relays to.
// No dependencies (node:http only). The BFF strips the route prefix, so the browser's
// `/api/chat/stream` arrives here as `/chat/stream`.
//
//   UPSTREAM_HOST=127.0.0.1 UPSTREAM_PORT=9100 node server.mjs
//   stdout (one line): {"ready":true,"port":PORT}      logs: stderr
//
// Environment:
//   UPSTREAM_HOST            address bound (default 127.0.0.1)
//   UPSTREAM_PORT            port (default 9100; 0 = any free port, read it from the ready line)
//   CHAT_EVENTS              number of SSE token events per chat answer (default 6)
//   CHAT_INTERVAL_MS         delay between two SSE events (default 400)
//   UPSTREAM_EXIT_WITH_STDIN 1 = exit when stdin closes (for test harnesses owning this process)
//
// Routes:
//   POST /chat/stream  {"message":"..."}  (or GET /chat/stream?q=...)  text/event-stream
//   GET  /chat/whoami, /analytics/whoami  JSON echo of what this upstream received
//   GET  /analytics/report                demo data, needs `Authorization: Bearer ...`
//   GET  /chat/status/:code               answers that status
//   GET  /chat/slow?ms=N                  answers 200 after N ms
//   GET  /chat/openapi.json               this API's OpenAPI document (chat.openapi.json)
//   GET  /analytics/openapi.json          (analytics.openapi.json); the BFF merges both into
//                                         its own when a route says `openapi = "<url>"`
//   anything else                         404 JSON

import { readFileSync } from 'node:fs';
import * as http from 'node:http';

const env = process.env;
const HOST = env.UPSTREAM_HOST || '127.0.0.1';
const PORT = Number(env.UPSTREAM_PORT ?? 9100);
const int = (name, dflt, min) => {
  const n = Number(env[name] ?? dflt);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  return n;
};
const CHAT_EVENTS = int('CHAT_EVENTS', 6, 0);
const CHAT_INTERVAL_MS = int('CHAT_INTERVAL_MS', 400, 0);
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) throw new Error('UPSTREAM_PORT must be a port number');

const log = (...a) => console.error('[upstream]', ...a);

// The OpenAPI documents of the two demo services, read once (each describes its own paths).
const readSpec = (name) => JSON.parse(readFileSync(new URL(name, import.meta.url), 'utf8'));
const OPENAPI = {
  '/chat/openapi.json': readSpec('./chat.openapi.json'),
  '/analytics/openapi.json': readSpec('./analytics.openapi.json'),
};

const MAX_BODY = 1024 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, obj) {
  const body = `${JSON.stringify(obj)}\n`;
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

const header = (req, name) => {
  const v = req.headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
};

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

// A short reply that echoes the message, cut into CHAT_EVENTS tokens (words).
function replyTokens(message) {
  const text = (message || '').trim().replace(/\s+/g, ' ').slice(0, 200) || 'nothing';
  const words = `You said: "${text}". This answer streams from the demo upstream, one word at a time, through the BFF.`
    .split(' ');
  const out = [];
  for (let i = 0; i < CHAT_EVENTS; i += 1) {
    // spread the words over the events; the last event carries the remainder
    const from = Math.floor((i * words.length) / CHAT_EVENTS);
    const to = Math.floor(((i + 1) * words.length) / CHAT_EVENTS);
    const chunk = words.slice(from, Math.max(to, from + 1)).join(' ');
    out.push(i === 0 ? chunk : ` ${chunk}`);
  }
  return out;
}

async function chatStream(req, res, url) {
  let message = url.searchParams.get('q') ?? '';
  if (req.method === 'POST') {
    const body = await readBody(req);
    if (body.trim()) {
      let parsed;
      try { parsed = JSON.parse(body); } catch { return json(res, 400, { error: 'body must be JSON {"message": "..."}' }); }
      if (parsed && typeof parsed.message === 'string') message = parsed.message;
      else if (parsed && typeof parsed.q === 'string') message = parsed.q;
    }
  }
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
  // no Nagle delay: each event goes out as soon as it is written
  req.socket.setNoDelay(true);
  let closed = false;
  res.on('close', () => { closed = true; });
  const tokens = replyTokens(message);
  for (let i = 0; i < tokens.length; i += 1) {
    if (i > 0) await sleep(CHAT_INTERVAL_MS);
    if (closed) { log('chat stream: client went away after', i, 'events'); return undefined; }
    res.write(`data: ${JSON.stringify({ index: i, token: tokens[i] })}\n\n`);
  }
  if (tokens.length > 0) await sleep(CHAT_INTERVAL_MS);
  if (closed) return undefined;
  res.end('event: done\ndata: {}\n\n');
  return undefined;
}

async function whoami(req, res, url) {
  const body = await readBody(req);
  json(res, 200, {
    authorization: header(req, 'authorization'),
    cookie: header(req, 'cookie'),
    xsrf: header(req, 'x-xsrf-token'),
    forwardedFor: header(req, 'x-forwarded-for'),
    forwardedProto: header(req, 'x-forwarded-proto'),
    forwardedHost: header(req, 'x-forwarded-host'),
    method: req.method,
    path: url.pathname,
    query: url.search ? url.search.slice(1) : '',
    body,
    headerNames: Object.keys(req.headers).sort(),
  });
}

function report(req, res) {
  const auth = header(req, 'authorization');
  if (!auth || !/^Bearer\s+\S+/i.test(auth)) return json(res, 401, { error: 'missing bearer token' });
  return json(res, 200, {
    title: 'Quarterly usage',
    rows: [
      { month: '2026-07', activeUsers: 1200 },
      { month: '2026-08', activeUsers: 1350 },
      { month: '2026-09', activeUsers: 1475 },
    ],
  });
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://upstream.invalid');
  const path = url.pathname;
  const { method } = req;
  const isGet = method === 'GET' || method === 'HEAD';

  if (isGet && Object.hasOwn(OPENAPI, path)) return json(res, 200, OPENAPI[path]);
  if (path === '/chat/stream' && (method === 'POST' || method === 'GET')) return chatStream(req, res, url);
  if (path === '/chat/whoami' || path === '/analytics/whoami') return whoami(req, res, url);
  if (path === '/analytics/report' && isGet) return report(req, res);
  const status = /^\/chat\/status\/(\d{3})$/.exec(path);
  if (status && isGet) {
    const code = Number(status[1]);
    if (code < 200 || code > 599) return json(res, 400, { error: 'status must be 200..599' });
    if (code === 204 || code === 304) { res.writeHead(code); res.end(); return undefined; }
    return json(res, code, { status: code, message: http.STATUS_CODES[code] || 'status' });
  }
  if (path === '/chat/slow' && isGet) {
    const ms = Number(url.searchParams.get('ms') ?? 1000);
    if (!Number.isFinite(ms) || ms < 0 || ms > 600000) return json(res, 400, { error: 'ms must be 0..600000' });
    await sleep(ms);
    if (res.destroyed) return undefined;
    return json(res, 200, { slow: true, ms });
  }
  return json(res, 404, { error: 'not found', method, path });
}

const server = http.createServer((req, res) => {
  const started = Date.now();
  res.on('finish', () => log(req.method, req.url, res.statusCode, `${Date.now() - started}ms`));
  handle(req, res).catch((err) => {
    log('request failed', req.method, req.url, err?.message);
    if (!res.headersSent) json(res, err?.status || 500, { error: err?.status ? err.message : 'internal error' });
    else res.destroy();
  });
});

server.on('error', (err) => { log('server error', err.message); process.exit(1); });
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  log(`listening on http://${HOST}:${port} (chat: ${CHAT_EVENTS} events every ${CHAT_INTERVAL_MS} ms)`);
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});

function shutdown(sig) {
  log(`${sig}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// When a test harness owns this process it passes UPSTREAM_EXIT_WITH_STDIN=1 and keeps our
// stdin open; when the harness exits (even by a crash) the pipe closes and so do we.
if (env.UPSTREAM_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin closed'));
  process.stdin.resume();
}
