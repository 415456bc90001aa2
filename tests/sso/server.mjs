// Test/demo OpenID Provider for oidc-bff, built on the real `oidc-provider` package.
//
// Everything OIDC (discovery, jwks, /auth, /token, revocation, end-session, userinfo)
// is oidc-provider's own code. This file only adds: configuration, the sign-in
// interaction pages, and (SSO_MODE=test) a few test-control routes under /__test/.
// See README.md for the environment variables and routes.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as querystring from 'node:querystring';
import Provider, { errors } from 'oidc-provider';

// stdout carries exactly one line (the ready JSON). oidc-provider prints its notices
// with console.info, so route console.log/console.info to stderr.
console.log = console.info = (...a) => console.error(...a);
const log = (...a) => console.error('[sso]', ...a);

// ---------------------------------------------------------------- configuration
const env = process.env;
const HOST = env.SSO_HOST || '127.0.0.1';
const PORT = Number(env.SSO_PORT || 0);
const PATH = `/${(env.SSO_PATH ?? '/oidc/demo-stg').replace(/^\/+|\/+$/g, '')}`.replace(/^\/$/, '');
const MODE = env.SSO_MODE || 'demo';
const AT_FORMAT = env.SSO_ACCESS_TOKEN_FORMAT || 'opaque';
const PAR = env.SSO_PAR || 'off';
const DPOP_NONCE = env.SSO_DPOP_NONCE === '1';
const FAPI = env.SSO_FAPI === '1';
const TLS = Boolean(env.SSO_TLS_CERT && env.SSO_TLS_KEY);
if (!['off', 'on', 'required'].includes(PAR)) throw new Error('SSO_PAR must be off, on or required');
const ttl = (name, dflt) => {
  const n = Number(env[name] ?? dflt);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer (seconds)`);
  return n;
};
const AT_TTL = ttl('SSO_ACCESS_TOKEN_TTL', 300);
const ID_TTL = ttl('SSO_ID_TOKEN_TTL', 3600);
const RT_TTL = ttl('SSO_REFRESH_TOKEN_TTL', 86400);
if (!['test', 'demo'].includes(MODE)) throw new Error('SSO_MODE must be "test" or "demo"');
if (!['opaque', 'jwt'].includes(AT_FORMAT)) throw new Error('SSO_ACCESS_TOKEN_FORMAT must be "opaque" or "jwt"');
const TEST = MODE === 'test';

let clients = [];
if (env.SSO_CLIENTS) clients = JSON.parse(env.SSO_CLIENTS);
else if (env.SSO_CLIENTS_FILE) clients = JSON.parse(fs.readFileSync(env.SSO_CLIENTS_FILE, 'utf8'));
if (!Array.isArray(clients)) throw new Error('SSO_CLIENTS / SSO_CLIENTS_FILE must hold a JSON array');
if (clients.length === 0) log('warning: no clients configured (set SSO_CLIENTS or SSO_CLIENTS_FILE)');

// Access tokens in jwt mode are issued for this resource server (audience).
const RESOURCE = 'urn:bff:api';
const RESOURCE_SCOPE = 'openid profile email offline_access';

// ---------------------------------------------------------------- users
const USERS = {
  alice: {
    password: 'alice-pass',
    claims: {
      name: 'Alice Analyst', email: 'alice@example.test', email_verified: true,
      roles: ['analyst', 'user'], groups: ['staff'], realm_access: { roles: ['analyst'] },
    },
  },
  bob: {
    password: 'bob-pass',
    claims: {
      name: 'Bob Builder', email: 'bob@example.test', email_verified: true,
      roles: ['user'], groups: ['staff'], realm_access: { roles: [] },
    },
  },
  // An enterprise user as Active Directory describes them: 60 group DNs (long, repetitive,
  // highly compressible), a non-ASCII name.
  carol: {
    password: 'carol-pass',
    claims: {
      name: 'Carol Contrôleuse', email: 'carol@example.test', email_verified: true,
      roles: ['user'],
      groups: Array.from({ length: 60 }, (_, i) => `CN=GRP-Finance-Readers-${i},OU=Groups,OU=Finance,DC=corp,DC=example,DC=com`),
      realm_access: { roles: [] },
    },
  },
};

async function findAccount(ctx, id) {
  const user = USERS[id];
  if (!user) return undefined;
  return {
    accountId: id,
    // oidc-provider filters these by the granted scopes/claims.
    async claims() { return { sub: id, preferred_username: id, ...user.claims }; },
  };
}

// ---------------------------------------------------------------- signing keys
const jwk = (type, opts, kid) => ({
  ...crypto.generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }), kid, use: 'sig',
});
const jwks = {
  keys: [
    jwk('rsa', { modulusLength: 2048 }, 'rsa-1'), // RS256 + PS256 (no "alg" pinned)
    jwk('ec', { namedCurve: 'P-256' }, 'ec-1'), // ES256
  ],
};

// ---------------------------------------------------------------- test-control state
// requestIds: the X-Request-Id of the latest back-channel calls (bounded), to prove the BFF
// passes its request id on to the SSO.
const stats = () => ({ token: {}, revocation: 0, discovery: 0, jwks: 0, requestIds: [] });
const state = {
  stats: stats(), faults: {}, hiddenKids: new Set(), hung: new Set(),
  // Back-channel logout in tests: the registered https origin of a client's
  // backchannel_logout_uri is delivered to a loopback BFF instead (from -> to), and every
  // delivery is recorded. Not reset by /__test/reset: one test owns its client.
  backchannel: { rewrite: {}, deliveries: [] },
};
function releaseHung(target) {
  for (const h of [...state.hung]) if (!target || h.target === target) h.release();
}

// ---------------------------------------------------------------- html
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const CSS = `body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1f2933;margin:0}
main{max-width:340px;margin:10vh auto;background:#fff;padding:28px 32px;border-radius:8px;box-shadow:0 2px 8px rgba(0,0,0,.12)}
h1{font-size:1.4em;margin:0 0 4px}p.sub{color:#616e7c;margin:0 0 18px;font-size:.9em}
label{display:block;font-size:.85em;margin:10px 0 4px}input{width:100%;box-sizing:border-box;padding:9px;border:1px solid #cbd2d9;border-radius:4px;font-size:1em}
button{margin-top:18px;width:100%;padding:10px;border:0;border-radius:4px;background:#2563eb;color:#fff;font-size:1em;cursor:pointer}
.error{background:#fde8e8;color:#9b1c1c;padding:8px 10px;border-radius:4px;margin-bottom:8px}
.users{margin-top:18px;font-size:.85em;color:#52606d}code{background:#eef1f4;padding:1px 4px;border-radius:3px}`;
const page = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head><body><main>${body}</main></body></html>`;

function loginPage(uid, clientId, { error, username } = {}) {
  const users = MODE === 'demo'
    ? `<div class="users">Demo users: ${Object.entries(USERS)
      .map(([u, { password }]) => `<code>${u}</code> / <code>${password}</code>`).join(', ')}</div>`
    : '';
  return page('Demo SSO - Sign in', `<h1>Demo SSO</h1><p class="sub">Sign in to continue to <b>${esc(clientId)}</b></p>
${error ? `<div class="error" role="alert">${esc(error)}</div>` : ''}
<form method="post" action="${PATH}/interaction/${esc(uid)}/login" autocomplete="off">
<label for="username">Username</label><input id="username" name="username" value="${esc(username)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>${users}`);
}

// ---------------------------------------------------------------- provider config
const configuration = {
  clients,
  jwks,
  findAccount,
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'], // sid/acr/auth_time are standalone claims; oidc-provider sets sid itself
    profile: ['name', 'roles', 'groups', 'realm_access', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  conformIdTokenClaims: false, // scope-granted profile/email claims go into the ID token
  pkce: { required: () => true }, // oidc-provider 9 only implements S256
  ...(TLS ? {
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none',
      'tls_client_auth', 'self_signed_tls_client_auth'],
  } : {}),
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true, // a consumed refresh token reused => invalid_grant + grant revoked
  ttl: {
    AccessToken: AT_TTL, IdToken: ID_TTL, RefreshToken: RT_TTL, AuthorizationCode: 60,
    Interaction: 3600, Session: Math.max(RT_TTL, 86400), Grant: Math.max(RT_TTL, 86400),
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  clientBasedCORS: () => false, // the BFF talks to the SSO server-side only
  interactions: { url: (ctx, interaction) => `${PATH}/interaction/${interaction.uid}` },
  // roles in access tokens (visible when they are JWTs; stored alongside opaque ones)
  extraTokenClaims: async (ctx, token) => (token.kind === 'AccessToken' && USERS[token.accountId]
    ? { roles: USERS[token.accountId].claims.roles } : undefined),
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Demo SSO - Error', `<h1>Demo SSO</h1><div class="error">${esc(out.error)}: ${esc(out.error_description)}</div>`);
  },
  // Outgoing calls (back-channel logout). oidc-provider refuses special-use addresses such as
  // loopback (SSRF protection); the test SSO delivers to the loopback BFF under test instead
  // of the registered public origin, and records what it delivered.
  ...(TEST ? {
    async fetch(url, options) {
      const { dispatcher, ...rest } = options; // eslint-disable-line no-unused-vars
      const href = String(url);
      const from = Object.keys(state.backchannel.rewrite).find((o) => href.startsWith(`${o}/`));
      const target = from ? state.backchannel.rewrite[from] + href.slice(from.length) : href;
      const delivery = { url: href, status: null };
      state.backchannel.deliveries.push(delivery);
      try {
        const response = await globalThis.fetch(target, rest);
        delivery.status = response.status;
        return response;
      } catch (err) {
        delivery.status = `error: ${err?.message}`;
        throw err;
      }
    },
  } : {}),
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    // SSO_PAR: off (the default: the flow most enterprise SSOs offer), on, or required.
    pushedAuthorizationRequests: {
      enabled: PAR !== 'off',
      requirePushedAuthorizationRequests: PAR === 'required',
    },
    // SSO_DPOP_NONCE=1: every DPoP proof must carry a nonce the SSO issued (RFC 9449 section 8).
    dPoP: DPOP_NONCE
      ? { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true }
      : { enabled: true },
    // SSO_TLS_CERT/SSO_TLS_KEY: a second, TLS listener asking for client certificates; its
    // connections authenticate the mTLS clients (RFC 8705). Self-signed client certificates
    // are matched by their x5t#S256 in the client's jwks; CA-issued ones need the socket's
    // verification (SSO_TLS_CLIENT_CA).
    mTLS: TLS
      ? {
        enabled: true,
        selfSignedTlsClientAuth: true,
        tlsClientAuth: true,
        getCertificate(ctx) {
          const peer = ctx.req.socket.getPeerCertificate?.();
          return peer?.raw ? new crypto.X509Certificate(peer.raw) : undefined;
        },
        certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
        certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
          && ctx.req.socket.getPeerCertificate?.()?.subject?.CN === expected.replace(/^CN=/, ''),
      }
      : { enabled: false },
    // SSO_FAPI=1: the FAPI 2.0 Security Profile for the client bff-fapi.
    fapi: FAPI
      ? { enabled: true, profile: (ctx, client) => (client?.clientId === 'bff-fapi' ? '2.0' : undefined) }
      : { enabled: false },
    introspection: { enabled: false },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // The confirmation form is submitted automatically (logout=yes), so a browser lands
      // on post_logout_redirect_uri without a click.
      async logoutSource(ctx, form) {
        ctx.body = page('Demo SSO - Signing out', `<h1>Demo SSO</h1><p class="sub">Signing you out…</p>${form}
<noscript><button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button></noscript>
<script>var f=document.getElementById('op.logoutForm'),i=document.createElement('input');i.type='hidden';i.name='logout';i.value='yes';f.appendChild(i);f.submit();</script>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Demo SSO - Signed out', '<h1>Demo SSO</h1><p class="sub">You have been signed out.</p>');
      },
    },
    resourceIndicators: AT_FORMAT === 'jwt' ? {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf || RESOURCE,
      useGrantedResource: async () => true, // also when openid is requested (code + refresh grants)
      getResourceServerInfo: async (ctx, resource) => {
        if (resource !== RESOURCE) throw new errors.InvalidTarget();
        return {
          scope: RESOURCE_SCOPE, audience: RESOURCE, accessTokenTTL: AT_TTL,
          accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
        };
      },
    } : { enabled: false },
  },
};

// ---------------------------------------------------------------- interactions
// Creates (or extends) the Grant with everything that was requested: first-party app, no consent screen.
async function autoGrant(provider, details, accountId) {
  const { params, prompt } = details;
  let grant = details.grantId && await provider.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  if (params.scope) grant.addOIDCScope(params.scope);
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  if (AT_FORMAT === 'jwt') grant.addResourceScope(RESOURCE, RESOURCE_SCOPE);
  return grant.save();
}

// Finishes the current interaction; oidc-provider answers 303 -> <issuer>/auth/<uid> (resume).
async function finish(provider, req, res, details, accountId) {
  const accountForGrant = accountId || details.session?.accountId;
  const result = { consent: { grantId: await autoGrant(provider, details, accountForGrant) } };
  if (accountId) result.login = { accountId };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
const json = (res, status, obj) => send(res, status, JSON.stringify(obj), 'application/json');

async function handleInteraction(provider, req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Demo SSO', '<div class="error">interaction mismatch</div>'));
  const clientId = details.params.client_id;
  const prompt = details.prompt.name;

  if (action === '' && req.method === 'GET') {
    if (prompt === 'consent') return finish(provider, req, res, details); // auto-consent
    return send(res, 200, loginPage(uid, clientId));
  }
  if (action === 'login' && req.method === 'POST') {
    const { username = '', password = '' } = querystring.parse((await readBody(req)).toString());
    const user = USERS[username];
    if (!user || user.password !== password) {
      return send(res, 200, loginPage(uid, clientId, { error: 'Invalid username or password.', username }));
    }
    return finish(provider, req, res, details, String(username));
  }
  if (TEST && action === 'auto' && req.method === 'GET') {
    const user = new URL(req.url, 'http://x').searchParams.get('user') || 'alice';
    if (!USERS[user]) return json(res, 400, { error: `unknown user ${user}` });
    return finish(provider, req, res, details, prompt === 'login' ? user : undefined);
  }
  if (TEST && action === 'deny' && req.method === 'GET') {
    return provider.interactionFinished(req, res,
      { error: 'access_denied', error_description: 'the user declined' }, { mergeWithLastSubmission: false });
  }
  return send(res, 404, 'not found', 'text/plain');
}

// ---------------------------------------------------------------- test control routes
async function handleControl(req, res, route) {
  let body = {};
  if (req.method === 'POST') {
    const raw = (await readBody(req)).toString();
    try { body = raw ? JSON.parse(raw) : {}; } catch { return json(res, 400, { error: 'invalid JSON' }); }
  }
  if (route === 'stats' && req.method === 'GET') return json(res, 200, state.stats);
  if (route === 'fault' && req.method === 'POST') {
    const { target, mode = null } = body;
    if (!['token', 'discovery', 'jwks', 'revocation'].includes(target)
      || ![null, 'status500', 'garbage', 'hang', 'huge'].includes(mode)) {
      return json(res, 400, { error: 'target: token|discovery|jwks|revocation, mode: status500|garbage|hang|huge|null' });
    }
    if (mode) state.faults[target] = mode;
    else delete state.faults[target];
    if (mode !== 'hang') releaseHung(target);
    return json(res, 200, { faults: state.faults });
  }
  if (route === 'jwks-hide' && req.method === 'POST') {
    state.hiddenKids = new Set(Array.isArray(body.kids) ? body.kids : []);
    return json(res, 200, { hidden: [...state.hiddenKids] });
  }
  if (route === 'backchannel' && req.method === 'POST') {
    const { from, to } = body;
    if (typeof from !== 'string' || typeof to !== 'string') return json(res, 400, { error: 'from, to' });
    state.backchannel.rewrite[from] = to;
    return json(res, 200, { ok: true });
  }
  if (route === 'backchannel' && req.method === 'GET') return json(res, 200, state.backchannel);
  if (route === 'sign' && req.method === 'POST') {
    // A JWT signed with the SSO's own RSA key (RS256), with the given header and claims: tests
    // build logout tokens the SSO would never send (wrong audience, a nonce, ...).
    const key = crypto.createPrivateKey({ key: jwks.keys[0], format: 'jwk' });
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const header = { alg: 'RS256', kid: jwks.keys[0].kid, typ: 'logout+jwt', ...(body.header || {}) };
    const input = `${b64(header)}.${b64(body.claims || {})}`;
    const signature = crypto.sign('sha256', Buffer.from(input), key).toString('base64url');
    return json(res, 200, { token: `${input}.${signature}` });
  }
  if (route === 'reset' && req.method === 'POST') {
    releaseHung();
    Object.assign(state, { stats: stats(), faults: {}, hiddenKids: new Set() });
    return json(res, 200, { ok: true });
  }
  return json(res, 404, { error: 'unknown control route' });
}

// Injects the configured fault for an endpoint. Returns true when the request was handled.
function applyFault(req, res, target) {
  const mode = state.faults[target];
  if (mode === 'status500') {
    send(res, 500, '<html><body><h1>500 Internal Server Error</h1><p>injected fault</p></body></html>');
  } else if (mode === 'garbage') {
    // 200 with a JSON content-type but a body that is not JSON
    send(res, 200, 'this is not json <html>garbage</html>', 'application/json');
  } else if (mode === 'hang') {
    // Hold the request open; when the fault is cleared (or after 120 s) drop the connection
    // without an answer. The request is never processed (a hung refresh must not rotate).
    const h = { target };
    const timer = setTimeout(() => h.release(), 120_000);
    h.release = () => { clearTimeout(timer); state.hung.delete(h); req.socket.destroy(); };
    state.hung.add(h);
    req.on('close', () => { clearTimeout(timer); state.hung.delete(h); });
  } else if (mode === 'huge') {
    // oidc-provider answers as usual, and the (valid) JSON is followed by 2 MB of whitespace:
    // still a correct document, but one no client should read into memory unbounded.
    const { setHeader, end } = res;
    res.setHeader = (name, value) => (String(name).toLowerCase() === 'content-length' ? res : setHeader.call(res, name, value));
    res.end = (chunk, ...rest) => end.call(res, Buffer.concat([Buffer.from(chunk ?? ''), Buffer.alloc(2_000_000, ' ')]), ...rest);
    return false;
  } else {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- http server
const server = http.createServer();
server.listen(PORT, HOST, () => {
  const { port } = server.address();
  const issuer = `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${port}${PATH}`;
  const provider = new Provider(issuer, configuration);
  // oidc-provider only puts `sid` into ID tokens for clients registered for back-channel
  // logout with backchannel_logout_session_required. Like most enterprise SSOs, always do it
  // (the code/refresh token then carries sid, so both grants' ID tokens include it).
  provider.Client.prototype.includeSid = () => true;

  // post-processing inside oidc-provider: hide JWKS keys on demand (test mode)
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'jwks' && state.hiddenKids.size && ctx.body?.keys) {
      ctx.body = { keys: ctx.body.keys.filter((k) => !state.hiddenKids.has(k.kid)) };
    }
  });
  provider.on('server_error', (ctx, err) => log('server_error', err));
  const callback = provider.callback();

  const endpoints = {
    [`${PATH}/token`]: 'token',
    [`${PATH}/token/revocation`]: 'revocation',
    [`${PATH}/.well-known/openid-configuration`]: 'discovery',
    [`${PATH}/jwks`]: 'jwks',
  };

  const handler = async (req, res) => {
    try {
      const { pathname } = new URL(req.url, 'http://x');
      if (pathname.startsWith('/__test/')) {
        if (!TEST) return send(res, 404, 'not found', 'text/plain');
        return await handleControl(req, res, pathname.slice('/__test/'.length));
      }
      const m = pathname.match(/^(.*)\/interaction\/([^/]+)(?:\/(login|auto|deny))?$/);
      if (m && m[1] === PATH) return await handleInteraction(provider, req, res, m[2], m[3] || '');

      const target = endpoints[pathname];
      if (target) {
        if (target === 'token') {
          // count every token request by grant_type; the buffered body is handed to
          // oidc-provider via req.body (it supports an already-read body)
          req.body = await readBody(req);
          const gt = querystring.parse(req.body.toString()).grant_type;
          const key = typeof gt === 'string' && gt ? gt : '(none)';
          state.stats.token[key] = (state.stats.token[key] || 0) + 1;
        } else {
          state.stats[target] += 1;
        }
        if (TEST && applyFault(req, res, target)) return undefined;
      }

      if (pathname === PATH || pathname.startsWith(`${PATH}/`)) {
        if (!m) {
          state.stats.requestIds.push({ path: pathname.slice(PATH.length), id: req.headers['x-request-id'] ?? null });
          if (state.stats.requestIds.length > 500) state.stats.requestIds.shift();
        }
        // mount oidc-provider under PATH (like express' app.use(PATH, ...))
        req.originalUrl = req.url;
        req.url = req.url.slice(PATH.length) || '/';
        if (req.url.startsWith('?')) req.url = `/${req.url}`;
        return callback(req, res);
      }
      return send(res, 404, 'not found', 'text/plain');
    } catch (err) {
      log('request failed', req.method, req.url, err?.message);
      if (!res.headersSent) {
        // oidc-provider errors (e.g. SessionNotFound: missing/expired interaction cookie) carry a status
        const msg = [err?.message, err?.error_description].filter(Boolean).join(': ');
        send(res, err?.statusCode || 500, page('Demo SSO - Error', `<h1>Demo SSO</h1><div class="error">${esc(msg)}</div>`));
      } else res.destroy();
      return undefined;
    }
  };
  server.on('request', handler);

  if (MODE === 'demo') {
    log(`demo mode, issuer ${issuer}`);
    for (const [u, { password, claims }] of Object.entries(USERS)) {
      log(`  user ${u} / ${password}  (${claims.name}, roles ${claims.roles.join(',')})`);
    }
  }
  if (!TLS) {
    process.stdout.write(`${JSON.stringify({ ready: true, issuer, port })}\n`);
    return;
  }
  const tls = https.createServer({
    key: fs.readFileSync(env.SSO_TLS_KEY),
    cert: fs.readFileSync(env.SSO_TLS_CERT),
    ...(env.SSO_TLS_CLIENT_CA ? { ca: fs.readFileSync(env.SSO_TLS_CLIENT_CA) } : {}),
    requestCert: true,
    rejectUnauthorized: false, // self-signed client certificates are judged by oidc-provider
  }, handler);
  tls.listen(0, HOST, () => {
    const tlsPort = tls.address().port;
    process.stdout.write(`${JSON.stringify({ ready: true, issuer, port, tlsPort })}\n`);
  });
});
server.on('error', (err) => { log('server error', err); process.exit(1); });

function shutdown(sig) {
  log(`${sig}, shutting down`);
  releaseHung();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// When a test harness owns this process it passes SSO_EXIT_WITH_STDIN=1 and keeps our stdin
// open; when the harness exits (even by a crash) the pipe closes and so do we.
if (process.env.SSO_EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin closed'));
  process.stdin.resume();
}
