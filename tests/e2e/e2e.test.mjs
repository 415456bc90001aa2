// Real-browser end-to-end test of oidc-bff.
//
//   Chromium (playwright-core, Debian's /usr/bin/chromium)
//     └─ http://localhost:<nginx>   nginx with deploy/nginx/oidc-bff.conf (the production file, adapted)
//          ├─ /            the built Angular app (examples/angular/dist/oidc-bff-demo/browser)
//          └─ /api/...     two oidc-bff replicas (hash by session cookie)
//                             ├─ SSO: tests/sso (oidc-provider) on http://127.0.0.1:<port>  ← another site
//                             └─ upstream: examples/demo-upstream (SSE chat, analytics report)
//     └─ http://localhost:<short>   a third oidc-bff serving the app itself, with a short idle
//                                   timeout: the expiry-warning step
//
// The app's auth is @oidc-bff/angular (clients/angular/), built and linked into the app: these
// steps are its end-to-end test too (guards, 401 handling, cross-tab sign-out, expiry warning).
//
// Everything is started here on loopback with free ports and stopped at the end, also on failure.
// See README.md for how to run it and its environment variables.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, adaptSiteConf, mainConf } from './lib/nginx-conf.mjs';
import {
  crash, findNginx, freePorts, startService, stopAll, waitForHttp, waitForLine,
} from './lib/procs.mjs';

const HERE = path.join(REPO, 'tests/e2e');
const ARTIFACTS = path.join(HERE, 'artifacts');
const SCREENSHOTS = process.env.E2E_SCREENSHOTS === '1' ? path.resolve(process.env.E2E_SCREENSHOTS_DIR || path.join(REPO, 'docs/screenshots')) : null;
const CARGO_TARGET_DIR = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/oidc-bff/target');
const BFF_BIN = process.env.BFF_BIN || path.join(CARGO_TARGET_DIR, 'debug/oidc-bff');
const SPA_DIR = path.resolve(process.env.E2E_SPA_DIR || path.join(REPO, 'examples/angular/dist/oidc-bff-demo/browser'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HEADLESS = process.env.E2E_HEADED !== '1';

const SSO_PATH = '/affwebservices/CASSO/oidc/app-e2e';
const AT_TTL_S = 8; // SSO access-token lifetime: short, so a transparent refresh happens in the test
const REFRESH_SKEW = '2s';
const CHAT_EVENTS = 8;
const CHAT_INTERVAL_MS = 300;
// The app warns `expiryWarningSeconds` (its app.config.ts) before the session ends. The expiry step
// runs a BFF whose idle timeout is 10 s longer, so the warning shows 10 s after the last slide of
// the idle deadline; by then the access token (8 s, refreshed 2 s early) is due, so "Stay signed
// in" refreshes it, which slides the deadline at once (otherwise the BFF slides once a minute).
const APP_CONFIG = path.join(REPO, 'examples/angular/src/app/app.config.ts');
const EXPIRY_WARNING_S = Number(/expiryWarningSeconds:\s*(\d+)/.exec(fs.readFileSync(APP_CONFIG, 'utf8'))?.[1]);
const SHORT_IDLE_S = EXPIRY_WARNING_S + 10;
const TWO_TAB_SIGN_OUT_MS = 1000; // a logout in one tab shows in the others within this
const CLIENT_ID = 'oidc-bff-e2e';
const CLIENT_SECRET = crypto.randomBytes(24).toString('base64url');
const SESSION_KEY = crypto.randomBytes(32).toString('base64');

const T0 = Date.now();
const elapsed = () => `${((Date.now() - T0) / 1000).toFixed(1)}s`;

// --------------------------------------------------------------------------- shared state
const env = {}; // ports, urls, services
let tmp;
let browser;
let failed = false; // one failed step skips the rest (they build on each other)
const contexts = new Set();
const allRecs = []; // every context's record, for the console log on failure
// Content-Security-Policy: the policy the BFF itself gives the app (`oidc-bff check` prints the
// effective server.content_security_policy; its default is src/headers.rs DEFAULT_CSP), which
// nginx must send identically; every violation any page reports during the run; and every app
// document nginx served (a promise of its URL and headers, resolved when the response arrives).
let expectedCsp;
const cspViolations = [];
const appDocuments = [];
const CSP_CANARY = 'csp-canary'; // in the URL of the violation step 0 provokes on purpose

// Everything the browser does, for assertions and for failure reports.
function instrument(ctx, label) {
  const rec = { navigations: [], apiResponses: [], requests: [], console: [] };
  ctx.on('page', (page) => watchPage(page, rec, label));
  for (const page of ctx.pages()) watchPage(page, rec, label);
  contexts.add(ctx);
  return rec;
}

function watchPage(page, rec, label) {
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) rec.navigations.push(frame.url());
  });
  page.on('request', (req) => rec.requests.push({ method: req.method(), url: req.url(), nav: req.isNavigationRequest(), req }));
  page.on('response', (res) => {
    const u = new URL(res.url());
    const fromApp = u.origin === env.app || u.origin === env.shortApp;
    if (fromApp && !u.pathname.startsWith('/api/') && res.request().resourceType() === 'document') {
      // allHeaders(): headers() may leave security-related headers out
      appDocuments.push(res.allHeaders().then(
        (h) => ({ label, url: res.url(), status: res.status(), headers: h }),
        (err) => ({ label, url: res.url(), status: res.status(), error: err.message }),
      ));
    }
    if (fromApp && u.pathname.startsWith('/api/')) {
      rec.apiResponses.push({
        method: res.request().method(), path: u.pathname, status: res.status(),
        servedBy: res.headers()['x-served-by'] ?? null, at: Date.now(),
      });
    }
  });
  page.on('console', (msg) => {
    rec.console.push(`[${label}] ${msg.type()}: ${msg.text()}`);
    // Chromium also reports every violation on the console ("Refused to ... because it violates
    // the following Content Security Policy directive: ..."): a second channel besides the event
    if (/Content Security Policy/i.test(msg.text())) {
      cspViolations.push({ label, via: 'console', page: page.url(), text: msg.text() });
    }
  });
  page.on('pageerror', (err) => rec.console.push(`[${label}] pageerror: ${err.message}`));
}

/** The last address nginx tried (X-Served-By is $upstream_addr: "a, b" after a failover). */
const finalReplica = (servedBy) => (servedBy ? servedBy.split(',').pop().trim() : null);

async function screenshotAll(tag) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  let i = 0;
  for (const ctx of contexts) {
    for (const page of ctx.pages()) {
      i += 1;
      const file = path.join(ARTIFACTS, `${tag}-${i}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 5000 });
        console.error(`# screenshot: ${path.relative(REPO, file)} (${page.url()})`);
      } catch (err) {
        console.error(`# screenshot of ${page.url()} failed: ${err.message}`);
      }
    }
  }
}

async function readmeShot(page, name) {
  if (!SCREENSHOTS) return;
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

/** One step of the journey. Later steps build on earlier ones, so a failure skips the rest. */
function step(name, timeout, fn) {
  // our own deadline, so a step that hangs still takes its screenshots and stops the rest
  // (node's own timeout, a little later, would abandon it silently)
  it(name, { timeout: timeout + 10000 }, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    let timer;
    try {
      await Promise.race([
        fn(t),
        new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`step timed out after ${timeout} ms`)), timeout); }),
      ]);
      t.diagnostic(`done at ${elapsed()}`);
    } catch (err) {
      failed = true;
      const tag = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').slice(0, 60);
      await screenshotAll(tag);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  });
}

// --------------------------------------------------------------------------- helpers
const q = (page, id) => page.getByTestId(id);

async function ssoStats() {
  const res = await fetch(`${env.ssoOrigin}/__test/stats`);
  assert.equal(res.status, 200, 'GET /__test/stats');
  const s = await res.json();
  return { refresh: s.token?.refresh_token ?? 0, code: s.token?.authorization_code ?? 0, revocation: s.revocation ?? 0 };
}

/** document.cookie must never show the session cookie (httpOnly); XSRF-TOKEN must be there. */
async function assertNoSessionCookieInJs(page, where) {
  const jsCookies = await page.evaluate(() => document.cookie);
  assert.ok(!jsCookies.includes('__Host-bff'), `${where}: document.cookie exposes the session cookie: ${jsCookies}`);
  assert.match(jsCookies, /(?:^|;\s*)XSRF-TOKEN=/, `${where}: document.cookie has no XSRF-TOKEN: "${jsCookies}"`);
}

async function sessionInPage(page) {
  return page.evaluate(async () => {
    const r = await fetch('/api/session', { headers: { Accept: 'application/json' } });
    return { status: r.status, body: await r.json(), servedBy: r.headers.get('x-served-by') };
  });
}

function sessionCookies(cookies) {
  return cookies.filter((c) => c.name === '__Host-bff' || c.name.startsWith('__Host-bff.'));
}

/** On the SSO's sign-in page (another site): sign in there. */
async function signInAtSso(page, user, password) {
  await page.waitForURL((u) => u.origin === env.ssoOrigin && u.pathname.startsWith(`${SSO_PATH}/interaction/`), { timeout: 15000 });
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Watches data-event-count in the page: one sample per DOM mutation batch (i.e. per task). */
async function startChatSampler(page) {
  await page.evaluate(() => {
    const samples = [];
    window.__e2eChat = { samples, t0: performance.now() };
    const read = () => {
      const el = document.querySelector('[data-testid="chat-output"]');
      if (!el) return;
      const count = Number(el.getAttribute('data-event-count') ?? 'NaN');
      const done = el.getAttribute('data-done') === 'true';
      const last = samples[samples.length - 1];
      if (!last || last.count !== count || last.done !== done) {
        samples.push({ count, done, t: Math.round(performance.now() - window.__e2eChat.t0) });
      }
    };
    const obs = new MutationObserver(read);
    obs.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-event-count', 'data-done'] });
    window.__e2eChat.stop = () => obs.disconnect();
    read();
  });
}

/** Sends a chat message and checks that the answer arrived incrementally. */
async function chatAndAssertStreaming(page, message) {
  await q(page, 'chat-page').waitFor();
  await startChatSampler(page);
  await q(page, 'chat-input').fill(message);
  await q(page, 'chat-send').click();
  const out = q(page, 'chat-output');
  await page.locator('[data-testid="chat-output"][data-done="true"]').waitFor({ timeout: 20000 });
  const samples = await page.evaluate(() => { window.__e2eChat.stop(); return window.__e2eChat.samples; });
  const final = Number(await out.getAttribute('data-event-count'));
  assert.equal(final, CHAT_EVENTS, `chat: final data-event-count (samples: ${JSON.stringify(samples)})`);
  const intermediate = new Set(samples.filter((s) => !s.done && s.count > 0 && s.count < final).map((s) => s.count));
  assert.ok(intermediate.size >= 2,
    `chat: the answer did not render incrementally: intermediate data-event-count values ${JSON.stringify([...intermediate])}, samples ${JSON.stringify(samples)}`);
  const text = await out.innerText();
  assert.ok(text.includes(message), `chat output should echo the message; got ${JSON.stringify(text)}`);
  return { samples, intermediate: [...intermediate] };
}

// --------------------------------------------------------------------------- the stack
async function startStack() {
  // prerequisites, each with a clear message
  if (!fs.existsSync(path.join(SPA_DIR, 'index.html'))) {
    throw new Error(`The Angular build is missing: ${path.join(SPA_DIR, 'index.html')} does not exist. `
      + 'Build it first (cd examples/angular && npm ci && npx ng build), or point E2E_SPA_DIR at a built browser/ folder.');
  }
  try { fs.accessSync(BFF_BIN, fs.constants.X_OK); } catch {
    throw new Error(`No oidc-bff binary at ${BFF_BIN}: run \`cargo build\` (CARGO_TARGET_DIR=${CARGO_TARGET_DIR}) or set BFF_BIN.`);
  }
  try { fs.accessSync(CHROMIUM, fs.constants.X_OK); } catch {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH.`);
  }
  const nginxBin = findNginx();
  try { fs.accessSync(nginxBin, fs.constants.X_OK); } catch {
    throw new Error(`No nginx at ${nginxBin}: install nginx (apt-get install nginx-light) or set NGINX_BIN.`);
  }
  const ssoDir = path.join(REPO, 'tests/sso');
  if (!fs.existsSync(path.join(ssoDir, 'node_modules/oidc-provider'))) {
    console.error('# installing the test SSO\'s npm packages (npm ci in tests/sso)');
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ssoDir, stdio: ['ignore', 'inherit', 'inherit'] });
  }

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-bff-e2e-'));
  process.once('exit', () => { try { fs.rmSync(tmp, { recursive: true, force: true }); } catch { /* best effort */ } });
  const logs = path.join(tmp, 'logs');
  fs.mkdirSync(logs);
  if (!Number.isInteger(EXPIRY_WARNING_S) || EXPIRY_WARNING_S <= 0) {
    throw new Error(`No \`expiryWarningSeconds: <n>\` in ${APP_CONFIG}: the expiry step needs the app's warning window.`);
  }
  const [nginxPort, bff1Port, bff2Port, shortPort] = await freePorts(4);
  env.app = `http://localhost:${nginxPort}`;
  env.nginxPort = nginxPort;
  env.shortApp = `http://localhost:${shortPort}`;

  // 1. the SSO, on 127.0.0.1: another site than the app on localhost
  const clients = [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [`${env.app}/api/callback`, `${env.shortApp}/api/callback`],
    post_logout_redirect_uris: [`${env.app}/`, `${env.shortApp}/`],
  }];
  env.sso = startService('sso', process.execPath, [path.join(ssoDir, 'server.mjs')], {
    cwd: ssoDir,
    logFile: path.join(logs, 'sso.log'),
    keepStdinOpen: true,
    env: {
      SSO_MODE: 'test', SSO_HOST: '127.0.0.1', SSO_PORT: '0', SSO_PATH,
      SSO_ACCESS_TOKEN_TTL: String(AT_TTL_S), SSO_CLIENTS: JSON.stringify(clients), SSO_EXIT_WITH_STDIN: '1',
    },
  });
  // 2. the demo upstream
  env.upstream = startService('upstream', process.execPath, [path.join(REPO, 'examples/demo-upstream/server.mjs')], {
    logFile: path.join(logs, 'upstream.log'),
    keepStdinOpen: true,
    env: {
      UPSTREAM_HOST: '127.0.0.1', UPSTREAM_PORT: '0', UPSTREAM_EXIT_WITH_STDIN: '1',
      CHAT_EVENTS: String(CHAT_EVENTS), CHAT_INTERVAL_MS: String(CHAT_INTERVAL_MS),
    },
  });
  const [ssoReady, upReady] = await Promise.all([
    waitForLine(env.sso, (v) => v && v.ready === true, 30000),
    waitForLine(env.upstream, (v) => v && v.ready === true, 15000),
  ]);
  env.issuer = ssoReady.issuer;
  env.ssoOrigin = new URL(ssoReady.issuer).origin;
  const upstream = `http://127.0.0.1:${upReady.port}`;

  // 3. two BFF replicas; the dev profile's routes point at port 9100: replace them
  const routesFile = path.join(tmp, 'routes.toml');
  fs.writeFileSync(routesFile, [
    '# e2e: the dev profile\'s routes, pointed at this run\'s demo upstream',
    '[[routes]]', 'prefix = "/api/chat"', `upstream = "${upstream}/chat"`, '',
    '[[routes]]', 'prefix = "/api/analytics"', `upstream = "${upstream}/analytics"`, 'roles = ["analyst"]', '',
  ].join('\n'));
  const bffEnv = (port) => ({
    BFF_PROFILE: 'dev',
    BFF_CONFIG_DIR: path.join(REPO, 'profiles'),
    BFF_CONFIG_FILE: routesFile,
    BFF_SERVER__BIND: `127.0.0.1:${port}`,
    BFF_SERVER__PUBLIC_URL: env.app,
    BFF_OIDC__ISSUER: env.issuer,
    BFF_OIDC__CLIENT_ID: CLIENT_ID,
    BFF_OIDC__CLIENT_SECRET: CLIENT_SECRET,
    BFF_SESSION__KEYS: SESSION_KEY,
    BFF_SESSION__REFRESH_SKEW: REFRESH_SKEW,
    BFF_LOG: process.env.BFF_LOG || 'info',
    NO_COLOR: '1',
  });
  // The policy the BFF gives the app when it serves it itself: nginx must send the same.
  const checked = JSON.parse(execFileSync(BFF_BIN, ['check'], {
    env: { ...process.env, ...bffEnv(bff1Port) }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }));
  expectedCsp = checked.server?.content_security_policy;
  assert.ok(typeof expectedCsp === 'string' && expectedCsp.includes("script-src 'self'"),
    `oidc-bff check printed no usable server.content_security_policy: ${JSON.stringify(checked.server)}`);
  env.replicas = [];
  for (const [i, port] of [bff1Port, bff2Port].entries()) {
    const name = `bff${i + 1}`;
    const svc = startService(name, BFF_BIN, ['serve'], {
      logFile: path.join(logs, `${name}.log`),
      env: bffEnv(port),
    });
    svc.addr = `127.0.0.1:${port}`;
    env.replicas.push(svc);
  }
  // 3b. one more BFF for the expiry step: it serves the app itself (server.static_dir, the
  // deployment without nginx) and ends idle sessions after SHORT_IDLE_S
  env.short = startService('bff-short', BFF_BIN, ['serve'], {
    logFile: path.join(logs, 'bff-short.log'),
    env: {
      ...bffEnv(shortPort),
      BFF_SERVER__PUBLIC_URL: env.shortApp,
      BFF_SERVER__STATIC_DIR: SPA_DIR,
      BFF_SESSION__IDLE_TIMEOUT: `${SHORT_IDLE_S}s`,
    },
  });
  env.short.addr = `127.0.0.1:${shortPort}`;
  await Promise.all([...env.replicas, env.short].map((svc) => waitForHttp(svc, `http://${svc.addr}/readyz`, { timeoutMs: 30000 })));

  // 4. nginx in front, from the production config
  const ngx = path.join(tmp, 'nginx');
  fs.mkdirSync(ngx);
  const siteFile = path.join(ngx, 'oidc-bff.conf');
  fs.writeFileSync(siteFile, adaptSiteConf({
    listen: `127.0.0.1:${nginxPort}`,
    servers: env.replicas.map((r) => r.addr),
    root: SPA_DIR,
    accessLog: `${path.join(ngx, 'access.log')} e2e`,
    // e2e only: which replica answered (after a failover: "dead:port, alive:port")
    extraServerDirectives: ['add_header X-Served-By $upstream_addr always;'],
  }));
  const conf = path.join(ngx, 'nginx.conf');
  fs.writeFileSync(conf, mainConf({ prefix: ngx, siteFile }));
  env.nginxDir = ngx;
  env.nginx = startService('nginx', nginxBin, ['-p', ngx, '-c', conf, '-g', 'daemon off;'], {
    logFile: path.join(logs, 'nginx.log'),
  });
  await waitForHttp(env.nginx, `http://127.0.0.1:${nginxPort}/api/session`, { timeoutMs: 15000 });
  await waitForHttp(env.nginx, `http://127.0.0.1:${nginxPort}/`, { timeoutMs: 5000 });

  // 5. the browser
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: HEADLESS,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  console.error(`# stack up at ${elapsed()}: app ${env.app}, SSO ${env.issuer}, replicas ${env.replicas.map((r) => r.addr).join(' ')}, upstream ${upstream}, `
    + `short-idle BFF ${env.shortApp} (idle ${SHORT_IDLE_S}s, app warns ${EXPIRY_WARNING_S}s before)`);
}

/**
 * Runs in every frame of every page before the page's own scripts: reports each
 * `securitypolicyviolation` (fired for whatever the page's CSP blocks: an inline script or
 * event handler, a style, an image, a connection, ...) to the test through a binding, and keeps
 * it in window.__e2eCspViolations too.
 */
function cspRecorder() {
  const seen = [];
  Object.defineProperty(window, '__e2eCspViolations', { value: seen });
  window.addEventListener('securitypolicyviolation', (e) => {
    const v = {
      documentURI: e.documentURI, blockedURI: e.blockedURI, effectiveDirective: e.effectiveDirective,
      disposition: e.disposition, sourceFile: e.sourceFile, line: e.lineNumber, sample: e.sample,
    };
    seen.push(v);
    if (typeof window.__e2eCspViolation === 'function') window.__e2eCspViolation(v).catch(() => {});
  }, true);
}

async function newContext(label) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } }); // bypassCSP stays off
  ctx.setDefaultTimeout(15000);
  ctx.setDefaultNavigationTimeout(15000);
  await ctx.exposeBinding('__e2eCspViolation', (_source, v) => { cspViolations.push({ label, via: 'event', ...v }); });
  await ctx.addInitScript(cspRecorder);
  const rec = instrument(ctx, label);
  allRecs.push(rec);
  const page = await ctx.newPage();
  return { ctx, page, rec };
}

function saveLogs() {
  if (!tmp) return;
  const dir = path.join(ARTIFACTS, 'logs');
  fs.mkdirSync(dir, { recursive: true });
  const copy = (from, to) => { try { fs.copyFileSync(from, path.join(dir, to)); } catch { /* absent */ } };
  for (const f of fs.readdirSync(path.join(tmp, 'logs'))) copy(path.join(tmp, 'logs', f), f);
  if (env.nginxDir) {
    copy(path.join(env.nginxDir, 'access.log'), 'nginx-access.log');
    copy(path.join(env.nginxDir, 'error.log'), 'nginx-error.log');
    copy(path.join(env.nginxDir, 'nginx.conf'), 'nginx.conf');
    copy(path.join(env.nginxDir, 'oidc-bff.conf'), 'nginx-oidc-bff.conf');
  }
  const consoleLines = [];
  for (const r of allRecs) consoleLines.push(...r.console);
  fs.writeFileSync(path.join(dir, 'browser-console.log'), `${consoleLines.join('\n')}\n`);
  console.error(`# service logs copied to ${path.relative(REPO, dir)}/`);
}

// --------------------------------------------------------------------------- the journey
let alice; // { ctx, page, rec }
let bob;
let anon;

describe('oidc-bff in a real browser behind nginx (two replicas, real SSO)', () => {
  before(async () => {
    fs.rmSync(ARTIFACTS, { recursive: true, force: true });
    try {
      await startStack();
    } catch (err) {
      failed = true;
      throw err;
    }
  }, { timeout: 90000 });

  after(async () => {
    try {
      if (failed || process.env.E2E_KEEP_LOGS === '1') saveLogs();
      if (browser) await browser.close().catch(() => {});
    } finally {
      await stopAll();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      console.error(`# finished in ${elapsed()}`);
    }
  }, { timeout: 30000 });

  step('0. nginx serves the app (caching by file kind, the BFF\'s CSP); a failed sign-in (/?authError=access_denied) is shown, signed out', 15000, async (t) => {
    // the production config's caching: index.html (and client routes) revalidate, hashed assets are immutable;
    // its security headers: the app's files carry the BFF's own CSP, X-Frame-Options and nosniff
    const base = `http://127.0.0.1:${env.nginxPort}`;
    const assertAppHeaders = (res, what) => {
      assert.equal(res.headers.get('content-security-policy'), expectedCsp, `Content-Security-Policy of ${what}`);
      assert.equal(res.headers.get('x-frame-options'), 'DENY', `X-Frame-Options of ${what}`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', `X-Content-Type-Options of ${what}`);
    };
    for (const route of ['/', '/chat']) {
      const res = await fetch(`${base}${route}`);
      const html = await res.text();
      assert.equal(res.status, 200, `GET ${route}`);
      assert.match(html, /<html/i, `GET ${route} answers index.html`);
      assert.equal(res.headers.get('cache-control'), 'no-cache', `Cache-Control of ${route}`);
      assertAppHeaders(res, route);
      if (route === '/') {
        const asset = /(?:src|href)="\/?([^"]+-[A-Z0-9]{8}\.(?:js|css))"/.exec(html)?.[1];
        if (asset) {
          const a = await fetch(`${base}/${asset}`);
          await a.arrayBuffer();
          assert.equal(a.status, 200, `GET /${asset}`);
          assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable', `Cache-Control of /${asset}`);
          assertAppHeaders(a, `/${asset}`);
          t.diagnostic(`/${asset}: ${a.headers.get('cache-control')}`);
        } else {
          t.diagnostic('no hashed asset referenced by index.html (not an Angular build?): immutable caching not checked');
        }
      }
    }
    // the proxied BFF gets none of nginx's static headers: it sets its own (exactly one nosniff)
    const api = await fetch(`${base}/api/session`);
    await api.arrayBuffer();
    assert.equal(api.headers.get('content-security-policy'), null, 'nginx adds no CSP to /api/session');
    assert.equal(api.headers.get('x-content-type-options'), 'nosniff', 'X-Content-Type-Options of /api/session (once, from the BFF)');
    assert.equal(api.headers.get('cache-control'), 'no-store', 'Cache-Control of /api/session (the BFF\'s)');

    anon = await newContext('anon');
    const doc = await anon.page.goto(`${env.app}/?authError=access_denied`);
    assert.equal((await doc.allHeaders())['content-security-policy'], expectedCsp, 'the browser got the app document with the CSP');
    await q(anon.page, 'auth-error').waitFor();
    await assert.doesNotReject(q(anon.page, 'home').waitFor(), 'home page');
    await expectText(q(anon.page, 'signed-in-state'), /Not signed in/);
    await assert.doesNotReject(q(anon.page, 'login-link').waitFor(), 'login link when signed out');
    const s = await sessionInPage(anon.page);
    assert.deepEqual(s.body, { authenticated: false });

    // The violation recorder works (else the last step's "no violation" would prove nothing):
    // an image from another origin is blocked by img-src 'self' (before any request is made)
    // and must reach the test through both channels. Then it is forgotten.
    await anon.page.evaluate((name) => {
      const img = document.createElement('img');
      img.src = `http://127.0.0.1:9/${name}.png`;
      document.body.append(img);
    }, CSP_CANARY);
    const isCanary = (v) => `${v.blockedURI ?? ''} ${v.text ?? ''}`.includes(CSP_CANARY);
    const deadline = Date.now() + 5000;
    while (!['event', 'console'].every((via) => cspViolations.some((v) => isCanary(v) && v.via === via)) && Date.now() < deadline) {
      await new Promise((r) => { setTimeout(r, 50); });
    }
    const canary = cspViolations.filter(isCanary);
    assert.ok(canary.some((v) => v.via === 'event' && v.effectiveDirective === 'img-src'),
      `the securitypolicyviolation recorder missed a provoked img-src violation: ${JSON.stringify(canary)}`);
    assert.ok(canary.some((v) => v.via === 'console'),
      `no console message for a provoked img-src violation: ${JSON.stringify(canary)}`);
    for (let i = cspViolations.length - 1; i >= 0; i -= 1) if (isCanary(cspViolations[i])) cspViolations.splice(i, 1);

    await anon.ctx.close();
    contexts.delete(anon.ctx);
  });

  step('1. a signed-out visit to /chat goes to the SSO (another site) and comes back signed in, cookie SameSite=Strict', 30000, async (t) => {
    alice = await newContext('alice');
    const { page, ctx, rec } = alice;
    const before = await ssoStats();
    await page.goto(`${env.app}/chat`);
    await signInAtSso(page, 'alice', 'alice-pass');
    // back on the app, on the page asked for, and signed in without any reload
    await page.waitForURL((u) => u.origin === env.app && u.pathname === '/chat', { timeout: 15000 });
    await q(page, 'chat-page').waitFor();
    await expectText(q(page, 'user-name'), /Alice Analyst/);
    await expectText(q(page, 'user-roles'), /\banalyst\b/);

    const logins = rec.requests.filter((r) => r.nav && new URL(r.url).pathname === '/api/login');
    const callbacks = rec.requests.filter((r) => r.nav && new URL(r.url).pathname === '/api/callback');
    assert.equal(logins.length, 1, `one /api/login navigation expected, saw: ${JSON.stringify(rec.navigations)}`);
    assert.equal(callbacks.length, 1, `one /api/callback navigation expected, saw: ${JSON.stringify(rec.navigations)}`);
    const loads = rec.requests.filter((r) => r.nav && new URL(r.url).pathname === '/chat');
    assert.equal(loads.length, 2, `/chat loaded twice (before and after the SSO) and no more: ${JSON.stringify(rec.navigations)}`);
    assert.equal((await ssoStats()).code - before.code, 1, 'one authorization_code exchange');
    // The SameSite=Strict pitfall, observed: the document load that ends the SSO's redirect chain
    // (SSO -> /api/callback -> /chat) is cross-site, so the browser may withhold the new Strict
    // cookie from it. The SPA does not need it there: its own /api/session call is same-site.
    const sentOnLanding = /(?:^|;\s*)__Host-bff(?:\.0)?=/.test((await loads[1].req.allHeaders()).cookie ?? '');
    t.diagnostic(`session cookie sent with the /chat document load after the SSO redirect: ${sentOnLanding ? 'yes' : 'no (SameSite=Strict, cross-site redirect chain)'}; `
      + `the SPA's /api/session calls: ${rec.apiResponses.filter((x) => x.path === '/api/session').map((x) => x.status).join(', ')}`);

    const cookies = await ctx.cookies(env.app);
    const sess = sessionCookies(cookies);
    assert.ok(sess.length >= 1, `no session cookie in the browser: ${JSON.stringify(cookies.map((c) => c.name))}`);
    for (const c of sess) {
      assert.equal(c.sameSite, 'Strict', `${c.name} sameSite`);
      assert.equal(c.httpOnly, true, `${c.name} httpOnly`);
      assert.equal(c.secure, true, `${c.name} secure`);
      assert.equal(c.path, '/', `${c.name} path`);
      assert.equal(c.domain, 'localhost', `${c.name} host-only on localhost`);
    }
    t.diagnostic(`session cookie(s): ${sess.map((c) => `${c.name} (${c.value.length} bytes)`).join(', ')}; `
      + `other cookies: ${cookies.filter((c) => !sess.includes(c)).map((c) => c.name).join(', ') || 'none'}`);
    await assertNoSessionCookieInJs(page, 'after sign-in');

    // README screenshot: the signed-in home page with its user panel (client-side navigation)
    await q(page, 'nav-home').click();
    await q(page, 'home').waitFor();
    await q(page, 'user-panel').waitFor();
    await expectText(q(page, 'signed-in-state'), /Signed in as Alice Analyst/);
    await expectText(q(page, 'user-roles'), /analyst.*staff.*user|analyst, staff, user/);
    await readmeShot(page, 'home-signed-in.png');
    await assertNoSessionCookieInJs(page, 'home');
  });

  step('3. chat: the streamed answer renders incrementally (server-sent events through nginx and the BFF)', 30000, async (t) => {
    const { page } = alice;
    await q(page, 'nav-chat').click();
    const r = await chatAndAssertStreaming(page, 'Hello from the e2e test');
    t.diagnostic(`data-event-count samples: ${r.samples.map((s) => `${s.count}${s.done ? '(done)' : ''}@${s.t}ms`).join(' ')}`);
    await readmeShot(page, 'chat.png');
    await assertNoSessionCookieInJs(page, 'after chat');
  });

  step('4. role guard: alice (analyst) sees analytics; bob (no analyst role) is sent to /forbidden, and the BFF refuses him the API', 40000, async () => {
    const { page } = alice;
    await q(page, 'nav-analytics').click();
    await q(page, 'analytics-page').waitFor();
    await q(page, 'analytics-table').waitFor();
    const rows = await q(page, 'analytics-table').locator('tbody tr').count();
    assert.ok(rows >= 1, `analytics table rows: ${rows}`);
    assert.equal(new URL(page.url()).pathname, '/analytics', 'alice stays on /analytics');
    await readmeShot(page, 'analytics.png');

    bob = await newContext('bob');
    await bob.page.goto(`${env.app}/analytics`);
    await signInAtSso(bob.page, 'bob', 'bob-pass');
    // back from the SSO on /analytics, where roleGuard('analyst') sends him on to the forbidden route
    await bob.page.waitForURL((u) => u.origin === env.app && u.pathname === '/forbidden', { timeout: 15000 });
    await q(bob.page, 'forbidden-page').waitFor();
    await readmeShot(bob.page, 'forbidden.png');
    assert.equal(await q(bob.page, 'analytics-page').count(), 0, 'bob must not see the analytics page');
    await expectText(q(bob.page, 'user-name'), /Bob Builder/);
    const roles = await q(bob.page, 'user-roles').innerText();
    assert.ok(!/\banalyst\b/.test(roles), `bob's roles: ${roles}`);
    const landed = bob.rec.navigations.filter((u) => new URL(u).origin === env.app).map((u) => new URL(u).pathname);
    assert.ok(landed.includes('/analytics'), `bob came back to /analytics before the guard moved him: ${JSON.stringify(landed)}`);
    assert.deepEqual(bob.rec.apiResponses.filter((x) => x.path.startsWith('/api/analytics/')), [], 'the guard let the app call no analytics API');
    // the guard is only the UI: the BFF enforces the route's roles itself
    const direct = await bob.page.evaluate(async () => {
      const r = await fetch('/api/analytics/report', { headers: { Accept: 'application/json' } });
      return { status: r.status, type: r.headers.get('content-type') };
    });
    assert.equal(direct.status, 403, `GET /api/analytics/report as bob: ${JSON.stringify(direct)}`);
    await assertNoSessionCookieInJs(bob.page, 'bob');
    await bob.ctx.close();
    contexts.delete(bob.ctx);
  });

  step('5. transparent refresh: after the access token expired the app keeps working, the SSO saw a refresh', 40000, async (t) => {
    const { page, rec } = alice;
    // /api/session refreshes when due, so read the expiry once, then leave the app (no
    // background calls) and wait on the real clock until that access token has expired.
    const s = await sessionInPage(page);
    assert.equal(s.body.authenticated, true, 'still signed in before the wait');
    const expiresAt = Date.parse(s.body.accessTokenExpiresAt);
    assert.ok(Number.isFinite(expiresAt), `accessTokenExpiresAt: ${s.body.accessTokenExpiresAt}`);
    assert.ok(expiresAt - Date.now() <= AT_TTL_S * 1000 + 2000, `accessTokenExpiresAt ${s.body.accessTokenExpiresAt} is not ~${AT_TTL_S}s away`);
    await page.goto('about:blank');
    const stats0 = await ssoStats();
    // the behaviour under test is expiry on the real clock: poll it (no fixed sleep)
    while (Date.now() <= expiresAt + 300) await new Promise((r) => { setTimeout(r, 100); });
    t.diagnostic(`access token expired at ${new Date(expiresAt).toISOString()}; reloading the app at ${elapsed()}`);

    const navBefore = rec.navigations.length;
    const apiBefore = rec.apiResponses.length;
    await page.goto(`${env.app}/analytics`);
    await q(page, 'analytics-table').waitFor();
    assert.ok((await q(page, 'analytics-table').locator('tbody tr').count()) >= 1, 'analytics rows after refresh');
    await expectText(q(page, 'user-name'), /Alice Analyst/);
    const navs = rec.navigations.slice(navBefore);
    assert.ok(navs.every((u) => u === 'about:blank' || new URL(u).origin === env.app),
      `no trip to the SSO expected, navigations: ${JSON.stringify(navs)}`);
    const api = rec.apiResponses.slice(apiBefore);
    assert.ok(api.every((x) => x.status < 400), `API responses after expiry: ${JSON.stringify(api)}`);
    const stats1 = await ssoStats();
    assert.ok(stats1.refresh > stats0.refresh, `SSO refresh_token grants: before ${stats0.refresh}, after ${stats1.refresh}`);
    t.diagnostic(`refresh_token grants during the reload: ${stats1.refresh - stats0.refresh} (total ${stats1.refresh}); `
      + `API calls: ${api.map((x) => `${x.method} ${x.path} ${x.status} via ${x.servedBy}`).join('; ')}`);
    const s2 = await sessionInPage(page);
    assert.ok(Date.parse(s2.body.accessTokenExpiresAt) > expiresAt, 'a new access token');
    await assertNoSessionCookieInJs(page, 'after refresh');
  });

  step('6. no replica holds state: kill the one serving alice, the app keeps working on the other', 40000, async (t) => {
    const { page, rec } = alice;
    // Which replica does alice's current cookie hash to? Ask twice: the first call may
    // refresh (new cookie, maybe another replica); the second one carries the settled cookie.
    await sessionInPage(page);
    const probe = await sessionInPage(page);
    assert.equal(probe.body.authenticated, true);
    const victimAddr = finalReplica(probe.servedBy);
    const victim = env.replicas.find((r) => r.addr === victimAddr);
    assert.ok(victim, `X-Served-By "${probe.servedBy}" names no replica (${env.replicas.map((r) => r.addr)})`);
    const survivor = env.replicas.find((r) => r !== victim);
    // nginx routed by the session cookie's value (its access log records the affinity key)
    const cookie = sessionCookies(await alice.ctx.cookies(env.app)).find((c) => c.name === '__Host-bff' || c.name === '__Host-bff.0');
    assert.ok(cookie, 'alice has a session cookie');
    const keyed = await accessLogLines((l) => l.includes('/api/session') && l.endsWith(` aff=${cookie.value}`));
    assert.ok(keyed.length >= 1, `no /api/session request keyed by alice's cookie in nginx's access log (tail: ${tailAccessLog()})`);
    assert.ok(keyed.every((l) => l.includes(`upstream="${victim.addr}"`)), `requests with alice's cookie went to: ${keyed.join(' | ')}`);
    await crash(victim);
    assert.equal(victim.alive(), false, `${victim.name} is down`);
    t.diagnostic(`alice was on ${victim.name} (${victim.addr}); killed it (SIGKILL); survivor ${survivor.name} (${survivor.addr})`);

    const apiBefore = rec.apiResponses.length;
    const navBefore = rec.navigations.length;
    await q(page, 'nav-chat').click();
    await chatAndAssertStreaming(page, 'Still there after a replica died?');
    await page.reload();
    await q(page, 'chat-page').waitFor();
    await expectText(q(page, 'user-name'), /Alice Analyst/);
    await page.goto(`${env.app}/analytics`);
    await q(page, 'analytics-table').waitFor();
    await expectText(q(page, 'user-name'), /Alice Analyst/);

    const api = rec.apiResponses.slice(apiBefore);
    assert.ok(api.length >= 3, `API calls after the kill: ${JSON.stringify(api)}`);
    for (const x of api) {
      assert.ok(x.status < 400, `after the kill: ${x.method} ${x.path} answered ${x.status} via ${x.servedBy}`);
      assert.equal(finalReplica(x.servedBy), survivor.addr, `after the kill: ${x.method} ${x.path} served by ${x.servedBy}`);
    }
    const navs = rec.navigations.slice(navBefore);
    assert.ok(navs.every((u) => new URL(u).origin === env.app), `no trip to the SSO expected: ${JSON.stringify(navs)}`);
    const failovers = api.filter((x) => x.servedBy.includes(','));
    t.diagnostic(`${api.length} API calls after the kill, all served by ${survivor.addr}; `
      + `${failovers.length} first tried the dead replica (X-Served-By "${failovers[0]?.servedBy ?? '-'}")`);
    await assertNoSessionCookieInJs(page, 'after failover');
  });

  step('7. two tabs: logout in one signs the other out within a second; the SSO\'s end-session page; a sign-in in one is noticed by the other', 45000, async (t) => {
    const { page, ctx, rec } = alice;
    const tab2 = await ctx.newPage(); // same browser context: the same cookies, another tab
    await tab2.goto(`${env.app}/chat`);
    await q(tab2, 'chat-page').waitFor();
    await expectText(q(tab2, 'user-name'), /Alice Analyst/);
    // In tab 2: when does it show signed out (header and page)? Recorded by the page itself, on
    // the same clock as this process. And a marker that a reload would lose.
    await tab2.evaluate(() => {
      const seen = { header: null, home: null };
      window.__e2eSignedOut = seen;
      window.__e2eNotReloaded = true;
      const check = () => {
        const now = Date.now();
        if (seen.header === null && document.querySelector('[data-testid="login-link"]')
          && !document.querySelector('[data-testid="user-panel"]')) seen.header = now;
        const state = document.querySelector('[data-testid="signed-in-state"]');
        if (seen.home === null && state && /Not signed in/.test(state.textContent)) seen.home = now;
      };
      new MutationObserver(check).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const tab2Navs = [];
    tab2.on('framenavigated', (frame) => { if (frame === tab2.mainFrame()) tab2Navs.push(frame.url()); });

    const stats0 = await ssoStats();
    const navBefore = rec.navigations.length;
    let logoutSentAt = null;
    page.on('request', (req) => {
      if (req.method() === 'POST' && new URL(req.url()).pathname === '/api/logout') logoutSentAt ??= Date.now();
    });
    await q(page, 'logout-button').click();

    // tab 2 follows at once: signed out, off the guarded /chat, no reload, no trip to the SSO
    await tab2.waitForFunction(() => window.__e2eSignedOut.header !== null && window.__e2eSignedOut.home !== null, null, { timeout: 5000 });
    const seen = await tab2.evaluate(() => window.__e2eSignedOut);
    assert.ok(logoutSentAt !== null, 'tab 1 sent POST /api/logout');
    const delay = Math.max(seen.header, seen.home) - logoutSentAt;
    t.diagnostic(`tab 2 showed signed out ${seen.header - logoutSentAt} ms (header) and ${seen.home - logoutSentAt} ms (home page) after tab 1 sent POST /api/logout`);
    assert.ok(delay <= TWO_TAB_SIGN_OUT_MS, `tab 2 showed signed out ${delay} ms after the logout was sent (limit ${TWO_TAB_SIGN_OUT_MS} ms)`);
    assert.equal(new URL(tab2.url()).pathname, '/', 'tab 2 left the guarded /chat for /');
    assert.equal(await tab2.evaluate(() => window.__e2eNotReloaded === true), true, 'tab 2 was not reloaded');
    assert.ok(tab2Navs.every((u) => new URL(u).origin === env.app), `tab 2 stayed on the app: ${JSON.stringify(tab2Navs)}`);

    // tab 1: POST /api/logout, the SSO's end-session page, back on /, signed out
    await page.waitForURL((u) => u.origin === env.app && u.pathname === '/', { timeout: 15000 });
    await q(page, 'home').waitFor();
    await expectText(q(page, 'signed-in-state'), /Not signed in/);
    const navs = rec.navigations.slice(navBefore);
    assert.ok(navs.some((u) => u.startsWith(`${env.issuer}/session/end`)),
      `the SSO's end-session page was not visited: ${JSON.stringify(navs)}`);
    const s = await sessionInPage(page);
    assert.deepEqual(s.body, { authenticated: false });
    const left = sessionCookies(await ctx.cookies(env.app));
    assert.deepEqual(left.map((c) => c.name), [], 'no session cookie left in the browser');
    const stats1 = await ssoStats();
    assert.ok(stats1.revocation > stats0.revocation, `refresh token revoked at logout (revocations ${stats0.revocation} -> ${stats1.revocation})`);

    // signing in again in tab 1 is noticed by tab 2, without a reload
    await q(page, 'login-link').click();
    await signInAtSso(page, 'alice', 'alice-pass');
    await page.waitForURL((u) => u.origin === env.app && u.pathname === '/', { timeout: 15000 });
    await expectText(q(page, 'signed-in-state'), /Signed in as Alice Analyst/);
    await expectText(q(tab2, 'signed-in-state'), /Signed in as Alice Analyst/, 5000);
    await expectText(q(tab2, 'user-name'), /Alice Analyst/, 5000);
    assert.equal(await tab2.evaluate(() => window.__e2eNotReloaded === true), true, 'tab 2 noticed the sign-in without a reload');
    await tab2.close();
  });

  // The SameSite=Strict pitfall (README, "The SameSite=Strict hop"): the document load that ends
  // the SSO's cross-site redirect chain would get no Strict cookie, so a server-rendered landing
  // page would look signed out although the browser holds the session. The BFF ends a cross-site
  // callback with a same-site hop (a tiny page that navigates on), so the landing document load
  // carries the cookie. returnTo must be a page of the app: an API such as /api/session (the
  // README's old demo link) is refused before any trip to the SSO.
  step('8. the landing document load after the SSO\'s redirect carries the Strict session cookie (same-site hop); an API returnTo is refused', 30000, async (t) => {
    const c = await newContext('carol');
    try {
      const refused = await c.page.goto(`${env.app}/api/login?returnTo=/api/session`);
      assert.equal(refused.status(), 400, '/api/login?returnTo=/api/session is refused');
      assert.equal(new URL(c.page.url()).origin, env.app, 'no trip to the SSO for a refused returnTo');

      const landingPath = '/?landing=step8';
      await c.page.goto(`${env.app}/api/login?returnTo=${encodeURIComponent(landingPath)}`);
      await signInAtSso(c.page, 'alice', 'alice-pass');
      await c.page.waitForURL(`${env.app}${landingPath}`, { timeout: 15000 });
      await expectText(q(c.page, 'signed-in-state'), /Signed in as Alice Analyst/);
      const callbacks = c.rec.apiResponses.filter((x) => x.path === '/api/callback');
      assert.deepEqual(callbacks.map((x) => x.status), [200], 'the cross-site callback answers the same-site hop page (200)');
      const landings = c.rec.requests.filter((r) => r.nav && r.url === `${env.app}${landingPath}`);
      assert.equal(landings.length, 1, `one landing document load: ${JSON.stringify(c.rec.navigations)}`);
      const sent = (await landings[0].req.allHeaders()).cookie ?? '';
      const inJar = sessionCookies(await c.ctx.cookies(env.app)).map((x) => `${x.name} (SameSite=${x.sameSite})`);
      t.diagnostic(`session cookie in the browser: ${inJar.join(', ') || 'none'}; sent with the landing document load: ${/(?:^|;\s*)__Host-bff(?:\.0)?=/.test(sent) ? 'yes' : 'no'}`);
      assert.match(sent, /(?:^|;\s*)__Host-bff(?:\.0)?=/, `the landing document load carried no session cookie while the browser holds ${inJar.join(', ')}`);
    } finally {
      await c.ctx.close();
      contexts.delete(c.ctx);
    }
  });

  // The expiry warning, on a BFF whose idle timeout is EXPIRY_WARNING_S + 10 s (see SHORT_IDLE_S):
  // the app shows it 10 s after the session's last use, timed from expiresAt alone (no polling);
  // "Stay signed in" uses the session, the BFF slides its idle deadline, the warning goes.
  step('9. the expiry warning shows before expiresAt without asking the BFF; "Stay signed in" moves the deadline and hides it', 45000, async (t) => {
    const e = await newContext('erin');
    try {
      const { page, rec } = e;
      await page.goto(`${env.shortApp}/`);
      await q(page, 'login-link').click();
      await signInAtSso(page, 'alice', 'alice-pass');
      await page.waitForURL((u) => u.origin === env.shortApp && u.pathname === '/', { timeout: 15000 });
      await expectText(q(page, 'signed-in-state'), /Signed in as Alice Analyst/);
      assert.equal(await q(page, 'expiry-warning').count(), 0, `no warning right after sign-in (idle timeout ${SHORT_IDLE_S}s, warning ${EXPIRY_WARNING_S}s)`);
      const landedAt = await page.evaluate(() => performance.now());

      await q(page, 'expiry-warning').waitFor({ timeout: 20000 });
      const shownAt = Date.now();
      const warned = q(page, 'expiry-warning');
      const expiresAt = Date.parse(await warned.getAttribute('data-expires-at'));
      const secondsLeft = Number(await warned.getAttribute('data-seconds-left'));
      t.diagnostic(`warning shown ${((expiresAt - shownAt) / 1000).toFixed(1)} s before expiresAt, counting from ${secondsLeft} s`);
      assert.ok(expiresAt > shownAt, `shown before expiresAt (${new Date(expiresAt).toISOString()})`);
      assert.ok(expiresAt - shownAt <= EXPIRY_WARNING_S * 1000 + 1500, `shown within the last ${EXPIRY_WARNING_S} s: ${expiresAt - shownAt} ms before the end`);
      assert.ok(secondsLeft > 0 && secondsLeft <= EXPIRY_WARNING_S, `data-seconds-left ${secondsLeft}`);
      assert.deepEqual(await apiCallsSince(page, landedAt), [],
        'the warning came from expiresAt alone: no call to the BFF between the landing and the warning');

      await readmeShot(page, 'expiry-warning.png');
      const stats0 = await ssoStats();
      const clickedAt = await page.evaluate(() => performance.now());
      const apiBefore = rec.apiResponses.length;
      await q(page, 'expiry-extend').click();
      await warned.waitFor({ state: 'detached', timeout: 5000 });
      assert.deepEqual(await apiCallsSince(page, clickedAt), ['/api/session'], 'one session request extended it');
      assert.deepEqual(rec.apiResponses.slice(apiBefore).map((x) => `${x.method} ${x.path} ${x.status}`), ['GET /api/session 200']);
      const s = await sessionInPage(page);
      assert.equal(s.body.authenticated, true);
      assert.ok(Date.parse(s.body.expiresAt) >= expiresAt + 5000,
        `the idle deadline moved: was ${new Date(expiresAt).toISOString()}, now ${s.body.expiresAt}`);
      const stats1 = await ssoStats();
      t.diagnostic(`extended: expiresAt ${new Date(expiresAt).toISOString()} -> ${s.body.expiresAt}; SSO refresh_token grants during it: ${stats1.refresh - stats0.refresh}`);
      await assertNoSessionCookieInJs(page, 'expiry step');
    } finally {
      await e.ctx.close();
      contexts.delete(e.ctx);
    }
  });

  // Runs even when an earlier step failed: whatever ran must not have violated the CSP.
  it('10. the app runs under its Content-Security-Policy: every app document carried it, no violation on any page', { timeout: 20000 }, async (t) => {
    if (!browser) {
      t.skip('the stack did not start');
      return;
    }
    const earlierFailure = failed; // then fewer pages were loaded: check only what ran
    try {
      const docs = await Promise.all(appDocuments);
      if (!earlierFailure) assert.ok(docs.length >= 5, `app documents seen: ${docs.length}`);
      const without = docs.filter((d) => d.error || d.headers['content-security-policy'] !== expectedCsp);
      assert.deepEqual(without.map((d) => `${d.label} ${d.status} ${d.url}: ${d.error ?? d.headers['content-security-policy'] ?? 'no CSP'}`), [],
        'app documents without the expected Content-Security-Policy');
      // the pages still open may hold violations not yet reported through the binding
      for (const ctx of contexts) {
        for (const page of ctx.pages()) {
          const inPage = await page.evaluate(() => window.__e2eCspViolations ?? []).catch(() => []);
          for (const v of inPage) {
            if (!cspViolations.some((x) => x.via === 'event' && x.documentURI === v.documentURI && x.blockedURI === v.blockedURI
              && x.effectiveDirective === v.effectiveDirective && x.line === v.line)) {
              cspViolations.push({ label: 'late', via: 'event', ...v });
            }
          }
        }
      }
      t.diagnostic(`${docs.length} app documents, each with the BFF's CSP; CSP violations: ${cspViolations.length}`);
      assert.deepEqual(cspViolations.map((v) => (v.via === 'event'
        ? `[${v.label}] ${v.effectiveDirective} blocked ${v.blockedURI || '(inline)'} in ${v.documentURI} (${v.sourceFile || '-'}:${v.line ?? '-'}${v.sample ? `, sample ${JSON.stringify(v.sample)}` : ''})`
        : `[${v.label}] console on ${v.page}: ${v.text}`)), [], 'Content-Security-Policy violations during the run');
    } catch (err) {
      failed = true;
      throw err;
    }
  });
});

/** The BFF paths the page requested after `since` (its performance.now()), from its resource timing. */
function apiCallsSince(page, since) {
  return page.evaluate((t0) => performance.getEntriesByType('resource')
    .filter((entry) => entry.startTime > t0 && new URL(entry.name).pathname.startsWith('/api/'))
    .map((entry) => new URL(entry.name).pathname), since);
}

/** nginx access-log lines matching `pred` (polls briefly: a line is written when its request ends). */
async function accessLogLines(pred, timeoutMs = 2000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = fs.readFileSync(path.join(env.nginxDir, 'access.log'), 'utf8').split('\n').filter(Boolean).filter(pred);
    if (lines.length || Date.now() > deadline) return lines;
    await new Promise((r) => { setTimeout(r, 100); });
  }
}

function tailAccessLog(n = 5) {
  try {
    return fs.readFileSync(path.join(env.nginxDir, 'access.log'), 'utf8').trimEnd().split('\n').slice(-n)
      .map((l) => l.replace(/aff=(\S{12})\S+/, 'aff=$1…')).join(' | ');
  } catch { return '(none)'; }
}

async function expectText(locator, re, timeout = 10000) {
  const deadline = Date.now() + timeout;
  let text = '';
  for (;;) {
    try {
      text = await locator.innerText({ timeout: Math.max(500, deadline - Date.now()) });
      if (re.test(text)) return text;
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => { setTimeout(r, 100); });
  }
  assert.fail(`expected ${re} in [data-testid] text, got ${JSON.stringify(text)}`);
}

