// Signs in to one contender (oidc-bff or the Express peer) N times through the test SSO's
// scripted login, and writes each session's Cookie header value (one line each) to --out.
//
//   node signin.mjs --app http://127.0.0.1:P --login /api/login?returnTo=/ \
//     --callback /api/callback --session '^__Host-bff(\.\d+)?$' --count 20 --concurrency 8 \
//     [--verify /api/data/item] [--user alice] --out cookies.txt
//
// One sign-in is the browser's redirect chain, followed by hand:
//   app login route -> SSO /auth -> /interaction/<uid> (we go to .../auto?user=alice instead,
//   the test SSO's form-less sign-in) -> /auth/<uid> -> app callback (sets the session cookie).
// Every sign-in gets two fresh cookie jars, one per origin (the app and the SSO are both on
// 127.0.0.1 and cookies do not tell ports apart, so one jar would mix them). The jars ignore
// `Secure`: the BFF's `__Host-` cookies are Secure, and everything here is plain-HTTP loopback.
//
// stdout: one JSON line {"ok":N,"failed":0,"names":[...],"bytes":{"min":..,"max":..}} where
// bytes is the length of the Cookie header value (name=value pairs joined by "; ").
// Exit status 1 when any sign-in (or its verification) failed.

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    app: { type: 'string' },
    login: { type: 'string' },
    callback: { type: 'string' },
    session: { type: 'string' },
    count: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '8' },
    verify: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    out: { type: 'string' },
  },
});
for (const k of ['app', 'login', 'callback', 'session', 'out']) {
  if (!opt[k]) throw new Error(`signin: --${k} is required`);
}
const APP = new URL(opt.app);
const SESSION_COOKIE = new RegExp(opt.session);
const COUNT = Number(opt.count);
const CONCURRENCY = Math.max(1, Math.min(Number(opt.concurrency), COUNT));

/** Applies Set-Cookie headers to a jar (a Map name -> value); expired cookies are removed. */
function store(jar, setCookies) {
  for (const line of setCookies) {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k, v = ''] = a.split('=').map((s) => s.trim());
      if (/^max-age$/i.test(k)) return Number(v) <= 0;
      if (/^expires$/i.test(k)) return Date.parse(v) <= Date.now();
      return false;
    });
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

const cookieHeader = (pairs) => pairs.map(([n, v]) => `${n}=${v}`).join('; ');

async function signIn() {
  const jars = new Map(); // origin -> Map(name -> value)
  const jarFor = (origin) => jars.get(origin) ?? jars.set(origin, new Map()).get(origin);
  let url = new URL(opt.login, APP);
  let auto = false;
  for (let hop = 0; hop < 12; hop += 1) {
    const jar = jarFor(url.origin);
    const headers = jar.size ? { cookie: cookieHeader([...jar]) } : {};
    const res = await fetch(url, { redirect: 'manual', headers });
    store(jar, res.headers.getSetCookie());
    await res.arrayBuffer();
    if (url.origin === APP.origin && url.pathname === opt.callback) {
      const session = [...jarFor(APP.origin)].filter(([n]) => SESSION_COOKIE.test(n));
      if (session.length === 0) {
        throw new Error(`callback answered ${res.status} ${res.headers.get('location') ?? ''} without a session cookie`);
      }
      // chunks in order (__Host-bff.0, .1, ...; appSession.0, ...)
      session.sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
      return cookieHeader(session);
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !location) {
      throw new Error(`${url.origin}${url.pathname} answered ${res.status}, not a redirect`);
    }
    const next = new URL(location, url);
    // The SSO's sign-in page: take the scripted login instead of posting the form.
    if (!auto && /\/interaction\/[^/]+$/.test(next.pathname)) {
      next.pathname += '/auto';
      next.search = `?user=${encodeURIComponent(opt.user)}`;
      auto = true;
    }
    url = next;
  }
  throw new Error('too many redirects');
}

async function verify(cookie) {
  const res = await fetch(new URL(opt.verify, APP), { headers: { cookie }, redirect: 'manual' });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`verification GET ${opt.verify} answered ${res.status}: ${body.slice(0, 200)}`);
}

const cookies = new Array(COUNT);
const errors = [];
let next = 0;
async function worker() {
  while (next < COUNT) {
    const i = next;
    next += 1;
    try {
      cookies[i] = await signIn();
      if (opt.verify) await verify(cookies[i]);
    } catch (err) {
      errors.push(err?.cause ? `${err.message}: ${err.cause.message}` : String(err?.message ?? err));
    }
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));

const ok = cookies.filter(Boolean);
fs.writeFileSync(opt.out, ok.map((c) => `${c}\n`).join(''));
const lengths = ok.map((c) => Buffer.byteLength(c));
const names = ok.length ? ok[0].split('; ').map((p) => p.slice(0, p.indexOf('='))) : [];
for (const e of [...new Set(errors)].slice(0, 5)) console.error(`signin: ${e}`);
process.stdout.write(`${JSON.stringify({
  ok: ok.length,
  failed: errors.length,
  names,
  bytes: { min: Math.min(...lengths, Infinity), max: Math.max(...lengths, 0) },
})}\n`);
process.exitCode = errors.length ? 1 : 0;
