// The peer of benches/relay.sh: Express + express-openid-connect (its default encrypted,
// rolling cookie session), relaying GET /api/data/* to the static upstream with the session's
// access token, in WORKERS processes behind node:cluster (the primary only hands out
// connections).
//
// Environment: PORT, ISSUER, CLIENT_ID, CLIENT_SECRET, SECRET (cookie encryption secret),
// UPSTREAM (e.g. http://127.0.0.1:9000/bearer), WORKERS (default 2).
// stdout: one JSON line {"ready":true,"port":P,"workers":[pid,...]} once every worker listens.
//
// The relay is the plainest fast one: node:http with a keep-alive agent (what
// http-proxy-middleware does underneath, minus its per-request bookkeeping), so the peer is
// measured at its best rather than with an extra proxy layer.

import cluster from 'node:cluster';
import * as http from 'node:http';
import express from 'express';
import eoc from 'express-openid-connect';

const { auth, requiresAuth } = eoc;
const env = process.env;
const PORT = Number(env.PORT);
const WORKERS = Number(env.WORKERS || 2);

if (cluster.isPrimary) {
  const pids = [];
  let listening = 0;
  let stopping = false;
  for (let i = 0; i < WORKERS; i += 1) {
    const worker = cluster.fork();
    pids.push(worker.process.pid);
    worker.on('listening', () => {
      listening += 1;
      if (listening === WORKERS) {
        process.stdout.write(`${JSON.stringify({ ready: true, port: PORT, workers: pids })}\n`);
      }
    });
  }
  // A worker that dies mid-benchmark would silently halve the peer: stop instead.
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    console.error(`express: worker ${worker.process.pid} exited (${signal ?? code}); stopping`);
    process.exit(1);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const upstream = new URL(env.UPSTREAM);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const app = express();
  app.disable('x-powered-by');
  app.use(auth({
    issuerBaseURL: env.ISSUER,
    baseURL: `http://127.0.0.1:${PORT}`,
    clientID: env.CLIENT_ID,
    clientSecret: env.CLIENT_SECRET,
    secret: env.SECRET,
    authRequired: false, // only the relayed route needs a session
    errorOnRequiredAuth: true, // 401 instead of a redirect to /login, so wrk counts failures
    enableTelemetry: false,
    authorizationParams: {
      response_type: 'code',
      response_mode: 'query', // the default form_post wants https; query is the BFF's mode too
      scope: 'openid profile email offline_access',
    },
  }));

  app.use('/api/data', requiresAuth(), async (req, res, next) => {
    try {
      let token = req.oidc.accessToken;
      if (!token) throw Object.assign(new Error('no access token in the session'), { status: 401 });
      if (token.isExpired()) token = await token.refresh(); // what an app must do; not hit here
      const up = http.request({
        host: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname.replace(/\/$/, '') + req.url,
        method: req.method,
        agent,
        headers: {
          authorization: `Bearer ${token.access_token}`,
          accept: req.headers.accept ?? '*/*',
        },
      }, (upRes) => {
        res.status(upRes.statusCode);
        for (const h of ['content-type', 'content-length', 'cache-control']) {
          if (upRes.headers[h] !== undefined) res.setHeader(h, upRes.headers[h]);
        }
        upRes.pipe(res);
      });
      up.on('error', next);
      up.end();
    } catch (err) {
      next(err);
    }
  });

  app.listen(PORT, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
