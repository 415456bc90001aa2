// Prints the tables of benches/relay.sh from its facts file (JSON lines):
//   {"kind":"run","scenario":"main"|"session"|"warmup"|"warmup-session"|"due"|"many",
//    "contender":"nginx"|"bff"|"store"|"express"|"baseline"|"floor"|"pinned","round":1,"cpu_us":123456,
//    "cookie_writes":0|null (session cookies an oidc-bff wrote during the run; null for the others),"wrk":{...}}
//   {"kind":"rss","scenario":"main"|"due"|"many","contender":"...","kib":12345,"processes":3}
//   {"kind":"cookie","contender":"bff"|"express"|"baseline","bytes":1434,"names":["__Host-bff"]}
//   {"kind":"sessions","scenario":"due"|"many","count":100}
//   {"kind":"refresh","scenario":"due","sessions":100,"calls":100}
//   {"kind":"store","errors":0,"commands":40,"seconds":38,"deny_entries":10000,"keys":10000}   (--store)
// Markdown tables (they can go into the README as they are), then the issue's targets.
// Exit status 2 when any run (warm-ups included) had an error.
//
//   node report.mjs facts.jsonl

import * as fs from 'node:fs';

const facts = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const NAMES = {
  nginx: 'nginx relaying, no authentication (the ceiling)',
  bff: 'oidc-bff',
  store: 'oidc-bff + store (Redis, --store)',
  baseline: 'oidc-bff baseline (--baseline)',
  express: 'Express + express-openid-connect, 2 workers',
  floor: 'plain hyper relay, no authentication (the stack\'s floor)',
  pinned: 'the same, one upstream connection per browser connection',
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const rps = (w) => w.requests / (w.duration_us / 1e6);
const errors = (w) => w.status_errors + w.connect + w.read + w.write + w.timeout;
const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (us) => `${(us / 1000).toFixed(us < 10000 ? 2 : 1)} ms`;
const mib = (kib) => (kib == null ? '–' : `${(kib / 1024).toFixed(1)} MiB`);
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '–');
const us = (x) => (x == null ? '–' : `${x.toFixed(1)} µs`);
const range = (xs, fmt) => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})` : '');

const runs = (scenario, contender) => facts.filter((f) => f.kind === 'run' && f.scenario === scenario
  && (!contender || f.contender === contender));
const one = (kind, scenario, contender) => facts.find((f) => f.kind === kind
  && (!scenario || f.scenario === scenario) && (!contender || f.contender === contender));

/** Median figures of a set of runs (null when there are none). */
function summary(list) {
  if (list.length === 0) return null;
  const r = list.map((f) => rps(f.wrk));
  return {
    rounds: list.length,
    rps: median(r),
    rpsRange: range(r, int),
    p50: median(list.map((f) => f.wrk.p50_us)),
    p99: median(list.map((f) => f.wrk.p99_us)),
    p99Range: range(list.map((f) => f.wrk.p99_us), (us) => (us / 1000).toFixed(1)),
    errors: list.reduce((n, f) => n + errors(f.wrk), 0),
    requests: list.reduce((n, f) => n + f.wrk.requests, 0),
    // CPU time the contender's processes used per request (µs), when the run recorded it.
    cpu: list.every((f) => f.cpu_us != null) ? median(list.map((f) => f.cpu_us / f.wrk.requests)) : null,
    // Session cookies an oidc-bff wrote during the runs (null when not known).
    writes: list.every((f) => f.cookie_writes != null) ? list.reduce((n, f) => n + f.cookie_writes, 0) : null,
  };
}

// ---------------------------------------------------------------- the relay table
const main = Object.fromEntries(['nginx', 'floor', 'pinned', 'bff', 'store', 'baseline', 'express'].map((c) => [c, summary(runs('main', c))]));
const rounds = Math.max(0, ...Object.values(main).filter(Boolean).map((s) => s.rounds));
const plural = (n) => `${n} round${n === 1 ? '' : 's'}`;
const vsBaseline = main.baseline != null; // the "× baseline" columns only when a baseline ran
console.log(`\n### One authenticated GET relayed to a static nginx upstream (median of ${plural(rounds)}, min–max)\n`);
console.log(`| | requests/s | p50 | p99 | errors | CPU per request | peak RSS | session cookie | × nginx | × express | CPU × nginx |${vsBaseline ? ' × baseline |' : ''}`);
console.log(`|---|---|---|---|---|---|---|---|---|---|---|${vsBaseline ? '---|' : ''}`);
for (const [c, s] of Object.entries(main)) {
  if (!s) continue;
  const cookie = one('cookie', null, c);
  const rss = one('rss', 'main', c);
  console.log(`| ${NAMES[c]} | ${int(s.rps)}${s.rpsRange} | ${ms(s.p50)} | ${ms(s.p99)}${s.p99Range} | `
    + `${s.errors} | ${us(s.cpu)} | ${mib(rss?.kib)} | ${cookie ? `${int(cookie.bytes)} B` : '–'} | `
    + `${ratio(s.rps, main.nginx?.rps)} | ${ratio(s.rps, main.express?.rps)} | ${ratio(s.cpu, main.nginx?.cpu)} |`
    + `${vsBaseline ? ` ${ratio(s.rps, main.baseline.rps)} |` : ''}`);
}
console.log('\nerrors: responses >= 400 plus socket errors (connect, read, write, timeout), all rounds. '
  + 'Peak RSS: VmHWM summed over nginx\'s master and workers, over the Express workers (not the '
  + `cluster primary), the one oidc-bff process${vsBaseline || main.store ? ' (each)' : ''}, over its whole run (the /api/session `
  + 'runs included). Session cookie: the Cookie header value (name=value pairs) each sends. '
  + 'CPU per request: user and system time of the contender\'s processes (nginx: master and workers; '
  + 'Express: primary and workers) during a run, divided by the requests it answered (median of the '
  + 'rounds); CPU × nginx is that cost over nginx\'s.');
if (main.floor && main.bff) {
  console.log(`\nThe floor (examples/relay_floor.rs) is hyper's HTTP/1.1 server and client, the stack oidc-bff is built on, `
    + 'relaying the same GET with no authentication, no header rules and no logging: what this stack reaches before the BFF does '
    + `any work. oidc-bff reaches ${ratio(main.bff.rps, main.floor.rps)} the floor's throughput at `
    + `${ratio(main.bff.cpu, main.floor.cpu)} its CPU per request; the floor itself reaches ${ratio(main.floor.rps, main.nginx?.rps)} nginx's.`
    + (main.pinned ? ` With one upstream connection per browser connection instead of the pool, the floor reaches ${ratio(main.pinned.rps, main.floor.rps)} `
      + `its pooled throughput at ${ratio(main.pinned.cpu, main.floor.cpu)} its CPU per request.` : ''));
}

// ---------------------------------------------------------------- GET /api/session
const session = Object.fromEntries(['bff', 'store', 'baseline'].map((c) => [c, summary(runs('session', c))]));
if (session.bff || session.baseline) {
  const n = Math.max(...Object.values(session).filter(Boolean).map((s) => s.rounds));
  console.log(`\n### GET /api/session (open the cookie, refresh if due, build the JSON) (median of ${plural(n)}, min–max)\n`);
  console.log(`| | requests/s | p50 | p99 | errors | CPU per request |${session.baseline ? ' × baseline |' : ''}`);
  console.log(`|---|---|---|---|---|---|${session.baseline ? '---|' : ''}`);
  for (const [c, s] of Object.entries(session)) {
    if (!s) continue;
    console.log(`| ${NAMES[c]} | ${int(s.rps)}${s.rpsRange} | ${ms(s.p50)} | ${ms(s.p99)}${s.p99Range} | ${s.errors} | ${us(s.cpu)} |`
      + `${session.baseline ? ` ${ratio(s.rps, session.baseline.rps)} |` : ''}`);
  }
  console.log('\nThe same signed-in cookie and wrk settings as the relay, in each round after the relay runs. '
    + '/api/session answers 200 even without a session, so each cookie was checked to answer '
    + '"authenticated":true before and after the load.');
}

const written = ['bff', 'store', 'baseline'].flatMap((c) => [['relay', main[c]], ['/api/session', session[c]]]
  .filter(([, s]) => s && s.writes != null).map(([what, s]) => `${NAMES[c]} ${what} ${int(s.writes)}`));
if (written.length) {
  console.log('\nEach run of a signed-in contender starts right after a fresh sign-in, so its cookie is current, as a browser\'s is '
    + '(a browser sends the cookie oidc-bff re-issues when the idle deadline slides, at most once a minute; wrk would replay '
    + 'the first one and make every request past that minute re-seal it). Session cookies oidc-bff wrote during the measured runs: '
    + `${written.join(', ')}.`);
}
// ---------------------------------------------------------------- the store on and off (--store)
const storeFacts = one('store');
if (main.store && main.bff) {
  console.log('\n### The session store on and off (same binary, same run)\n');
  console.log('| | store off: requests/s | p99 | store on: requests/s | p99 | on ÷ off | p99 on ÷ off |');
  console.log('|---|---|---|---|---|---|---|');
  const row = (what, off, on) => console.log(`| ${what} | ${int(off.rps)}${off.rpsRange} | ${ms(off.p99)} | `
    + `${int(on.rps)}${on.rpsRange} | ${ms(on.p99)} | ${ratio(on.rps, off.rps)} | ${ratio(on.p99, off.p99)} |`);
  row('relayed GET', main.bff, main.store);
  if (session.bff && session.store) row('GET /api/session', session.bff, session.store);
  if (storeFacts) {
    console.log(`\nStore on: redis-server on loopback, ${int(storeFacts.deny_entries ?? 0)} other sessions on the deny-list (so each request `
      + 'really looks it up), in sync before and after the load; '
      + `${storeFacts.errors} failed store operations; Redis processed ${storeFacts.commands} commands in the `
      + `${storeFacts.seconds} s of warm-ups and rounds (health pings, about one a second, and this script's INFO), `
      + 'i.e. no round trip per request.');
  }
}

// ---------------------------------------------------------------- oidc-bff scenarios
const due = summary(runs('due'));
const many = summary(runs('many'));
if (due || many) {
  console.log('\n### oidc-bff under two harder loads\n');
  console.log('| scenario | sessions | requests/s | p50 | p99 | errors | SSO refresh calls | peak RSS |');
  console.log('|---|---|---|---|---|---|---|---|');
  const refresh = one('refresh', 'due');
  if (due) {
    const flight = refresh && refresh.calls === refresh.sessions ? ' (= sessions)' : ' (**≠ sessions**)';
    console.log(`| every access token due, refreshed under load | ${refresh?.sessions ?? '?'} | ${int(due.rps)}${due.rpsRange} | `
      + `${ms(due.p50)} | ${ms(due.p99)} | ${due.errors} | ${refresh ? `${refresh.calls}${flight}` : '?'} | `
      + `${mib(one('rss', 'due')?.kib)} |`);
  }
  if (many) {
    const n = one('sessions', 'many')?.count;
    console.log(`| ${n ? int(n) : '?'} distinct sessions, rotated per request | ${n ? int(n) : '?'} | ${int(many.rps)}${many.rpsRange} | `
      + `${ms(many.p50)} | ${ms(many.p99)}${many.p99Range} | ${many.errors} | – | ${mib(one('rss', 'many')?.kib)} |`);
  }
  if (due) {
    console.log(`\nDue tokens: ${due.requests.toLocaleString('en-US')} requests over ${refresh?.sessions ?? '?'} sessions whose access `
      + 'token is due on every request; the SSO counted the refresh calls (single flight: one per session, '
      + 'then the 30 s grace window serves the old cookie).');
  }
  if (many && many.writes != null) {
    console.log(`\nDistinct sessions: all signed in just before the warm-up; session cookies oidc-bff wrote during the measured runs: ${int(many.writes)} `
      + '(a session slides, and its cookie is re-issued, once it was last seen a minute ago).');
  }
}

// ---------------------------------------------------------------- targets of issue 10
if (main.bff) {
  const targets = [];
  const t = (what, value, ok) => targets.push(`- ${what}: ${value} — ${ok ? 'met' : '**not met**'}`);
  if (main.nginx) t('relay throughput ≥ 0.7× nginx', ratio(main.bff.rps, main.nginx.rps), main.bff.rps >= 0.7 * main.nginx.rps);
  if (main.nginx && main.floor) {
    // The floor bounds the target only when it is below it itself.
    const floorBelow = main.floor.rps < 0.7 * main.nginx.rps;
    targets.push(`  (${floorBelow ? 'bound: ' : ''}the stack's floor, a plain hyper relay doing no BFF work, reaches ${ratio(main.floor.rps, main.nginx.rps)} nginx's throughput in this run${floorBelow ? '' : ', above the target: the gap is the BFF\'s own work'})`);
  }
  if (main.express) t('relay throughput ≥ 10× express-openid-connect', ratio(main.bff.rps, main.express.rps), main.bff.rps >= 10 * main.express.rps);
  if (main.nginx) t('p99 ≤ 2× nginx', ratio(main.bff.p99, main.nginx.p99), main.bff.p99 <= 2 * main.nginx.p99);
  if (session.bff && session.baseline) {
    t('/api/session ≥ 1.5× the baseline', ratio(session.bff.rps, session.baseline.rps), session.bff.rps >= 1.5 * session.baseline.rps);
  } else if (session.bff) {
    targets.push('- /api/session ≥ 1.5× the baseline: no baseline given');
  }
  if (main.store) t('relay throughput with the store ≥ 0.9× without (issue 12)', ratio(main.store.rps, main.bff.rps), main.store.rps >= 0.9 * main.bff.rps);
  const bffErrors = [main.bff, main.store, session.bff, session.store, due, many].filter(Boolean).reduce((n, s) => n + s.errors, 0);
  t('zero errors (oidc-bff, every scenario)', String(bffErrors), bffErrors === 0);
  const manyRss = one('rss', 'many')?.kib;
  if (manyRss != null) t(`peak RSS ≤ 32 MiB with ${int(one('sessions', 'many')?.count ?? 0)} sessions`, mib(manyRss), manyRss <= 32 * 1024);
  console.log(`\n### Targets of issue 10${main.store ? ' (and 12)' : ''}\n\n${targets.join('\n')}`);
}

const failed = facts.filter((f) => f.kind === 'run' && errors(f.wrk) > 0);
for (const f of failed) {
  console.error(`relay: ${f.scenario} run of ${f.contender} (round ${f.round}) had ${errors(f.wrk)} errors: ${JSON.stringify(f.wrk)}`);
}
if (storeFacts && storeFacts.errors > 0) {
  console.error(`relay: the oidc-bff with the store counted ${storeFacts.errors} failed store operations`);
}
process.exitCode = failed.length || storeFacts?.errors > 0 ? 2 : 0;
