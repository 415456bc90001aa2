// Child processes for the end-to-end test: free ports, spawning with logs, readiness waits,
// and a stop that always runs (test end, failure, Ctrl-C, an uncaught error).
//
// No orphans: every child leads its own process group (so nginx's workers go with their
// master) and is stopped with SIGTERM then SIGKILL. If this process dies without cleaning up
// (even by SIGKILL), two safety nets remain: on Linux each child is started through
// `setpriv --pdeathsig KILL` (the kernel kills it when we die), and a tiny reaper shell, fed
// each child's process-group id over a pipe, kills those groups when the pipe closes (that
// catches grandchildren such as nginx's worker, which outlives a SIGKILLed master).

import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';

const children = new Set();

/** A port that was free a moment ago (bind port 0 on loopback, read it, release it). */
export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Distinct free ports (the OS may hand back a just-released port; ask again until distinct). */
export async function freePorts(n) {
  const ports = new Set();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function which(cmd) {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const SETPRIV = process.platform === 'linux' ? which('setpriv') : null;

let reaper = null;
function reap(pgid) {
  if (!reaper) {
    // reads process-group ids until EOF (our end closed: we exited or died), then kills them
    reaper = spawn('sh', ['-c', 'trap "" INT TERM HUP; g=""; while read -r p; do g="$g $p"; done; for p in $g; do kill -9 "-$p" 2>/dev/null; done'], {
      detached: true, stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.unref();
    reaper.stdin.on('error', () => {});
    reaper.stdin.unref?.();
    reaper.stdin._handle?.unref?.();
  }
  reaper.stdin.write(`${pgid}\n`);
}

export function findNginx() {
  if (process.env.NGINX_BIN) return process.env.NGINX_BIN;
  return which('nginx') || '/usr/sbin/nginx';
}

/**
 * Starts a service. stdout and stderr go to `logFile`; `lines` receives stdout lines as they come.
 * @returns {{name, proc, pid, log, exited: Promise<{code, signal}>, onLine(fn), alive(): boolean}}
 */
export function startService(name, cmd, args, { env = {}, cwd, logFile, keepStdinOpen = false } = {}) {
  const out = fs.openSync(logFile, 'a');
  const argv = SETPRIV ? ['--pdeathsig', 'KILL', '--', cmd, ...args] : args;
  const proc = spawn(SETPRIV || cmd, argv, {
    cwd,
    env: { ...process.env, ...env },
    detached: true, // own process group
    stdio: [keepStdinOpen ? 'pipe' : 'ignore', 'pipe', out],
  });
  fs.closeSync(out);
  if (proc.pid) reap(proc.pid);
  const listeners = [];
  let buf = '';
  const logStream = fs.createWriteStream(logFile, { flags: 'a' });
  proc.stdout.on('data', (chunk) => {
    logStream.write(chunk);
    buf += chunk.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      for (const fn of listeners) fn(line);
    }
  });
  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      children.delete(svc);
      resolve(exitInfo);
    });
    proc.once('error', (err) => {
      exitInfo = { code: null, signal: null, error: err };
      children.delete(svc);
      resolve(exitInfo);
    });
  });
  exited.then(() => logStream.end());
  const svc = {
    name,
    proc,
    pid: proc.pid,
    log: logFile,
    exited,
    onLine: (fn) => listeners.push(fn),
    alive: () => exitInfo === null,
    exitInfo: () => exitInfo,
  };
  children.add(svc);
  return svc;
}

function killGroup(svc, signal) {
  try {
    process.kill(-svc.pid, signal);
  } catch {
    try { process.kill(svc.pid, signal); } catch { /* gone */ }
  }
}

/** Hard crash of one service (SIGKILL to its group); resolves when it is gone. */
export async function crash(svc) {
  killGroup(svc, 'SIGKILL');
  await svc.exited;
}

/** SIGTERM every child, wait up to `graceMs`, SIGKILL the rest. Idempotent. */
export async function stopAll(graceMs = 5000) {
  const list = [...children].reverse();
  for (const svc of list) killGroup(svc, 'SIGTERM');
  const all = Promise.all(list.map((s) => s.exited));
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(r, graceMs); });
  await Promise.race([all, timeout]);
  clearTimeout(timer);
  for (const svc of [...children]) killGroup(svc, 'SIGKILL');
  await Promise.race([Promise.all(list.map((s) => s.exited)), new Promise((r) => setTimeout(r, 2000))]);
  for (const svc of list) {
    // the group may outlive its leader (e.g. a worker): make sure
    try { process.kill(-svc.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  if (children.size === 0 && reaper) {
    reaper.stdin.end(); // nothing left to reap: let it go
    reaper = null;
  }
}

function stopAllSync() {
  for (const svc of children) killGroup(svc, 'SIGKILL');
}
process.once('exit', stopAllSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    stopAll(2000).finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));
  });
}

export function tail(file, n = 30) {
  try {
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves with the first stdout line matching `pred` (parsed JSON when it parses). */
export function waitForLine(svc, pred, timeoutMs) {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${svc.name}: not ready within ${timeoutMs} ms\n--- ${svc.log} ---\n${tail(svc.log)}`)), timeoutMs);
    function finish(err, val) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err); else resolve(val);
    }
    svc.onLine((line) => {
      let v = line;
      try { v = JSON.parse(line); } catch { /* text */ }
      if (pred(v)) finish(null, v);
    });
    svc.exited.then((e) => finish(new Error(`${svc.name} exited during startup (${JSON.stringify(e)})\n--- ${svc.log} ---\n${tail(svc.log)}`)));
  });
}

/** Polls `url` until it answers `status`. */
export async function waitForHttp(svc, url, { status = 200, timeoutMs = 30000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!svc.alive()) throw new Error(`${svc.name} exited during startup (${JSON.stringify(svc.exitInfo())})\n--- ${svc.log} ---\n${tail(svc.log)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
      last = `HTTP ${res.status}`;
      await res.arrayBuffer();
      if (res.status === status) return;
    } catch (err) {
      last = err.cause?.code || err.message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${svc.name}: ${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})\n--- ${svc.log} ---\n${tail(svc.log)}`);
}
