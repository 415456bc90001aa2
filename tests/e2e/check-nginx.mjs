// `npm run check-nginx`: syntax-checks deploy/nginx/oidc-bff.conf with the real nginx
// (`nginx -t`), in a throwaway prefix directory:
//   1. the production file as written (TLS and all; only the certificate paths point at a
//      self-signed pair made for the check, and the access log into the throwaway folder),
//      included in a minimal main context;
//   2. the plain-HTTP loopback copy the end-to-end test runs;
//   3. deploy/nginx/oidc-bff-store.conf, the variant without affinity for replicas that share
//      the session store, the same way as 1; and that it has no affinity and is identical to
//      oidc-bff.conf below their "---- end balancing ----" marker (so the two cannot drift).
// Environment: NGINX_BIN (default: nginx on PATH, else /usr/sbin/nginx).

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PRODUCTION_CONF, adaptSiteConf, mainConf } from './lib/nginx-conf.mjs';
import { findNginx } from './lib/procs.mjs';

const nginx = findNginx();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'oidc-bff-nginx-check-'));
let failed = false;
try {
  const run = (label, site, { affinity = true } = {}) => {
    const dir = path.join(tmp, label);
    fs.mkdirSync(dir, { recursive: true });
    const siteFile = path.join(dir, 'oidc-bff.conf');
    fs.writeFileSync(siteFile, site);
    const conf = path.join(dir, 'nginx.conf');
    let main = mainConf({ prefix: dir, siteFile });
    // the test log format names $bff_affinity, which a file without affinity does not define
    if (!affinity) main = main.replace(' aff=$bff_affinity', '');
    fs.writeFileSync(conf, main);
    const r = spawnSync(nginx, ['-t', '-p', dir, '-c', conf], { encoding: 'utf8' });
    process.stdout.write(`${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`);
    // nginx -t exits 0 despite warnings ([warn]); treat those as failures too
    if (r.status !== 0 || /\[(warn|emerg|crit|alert)\]/.test(r.stderr ?? '')) {
      failed = true;
      console.log(`FAIL ${label}`);
    } else {
      console.log(`ok   ${label}`);
    }
  };

  // 1. production file, certificates swapped for a self-signed pair
  const crt = path.join(tmp, 'tls.crt');
  const key = path.join(tmp, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=app.example.com',
    '-keyout', key, '-out', crt], { stdio: 'ignore' });
  const forCheck = (file, label) => fs.readFileSync(file, 'utf8')
    .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${crt};`)
    .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${key};`)
    .replace(/access_log\s+\/\S+/, `access_log ${path.join(tmp, label, 'access.log')}`); // nginx -t opens it
  run('production', forCheck(PRODUCTION_CONF, 'production'));

  // 2. the e2e copy
  run('e2e', adaptSiteConf({
    listen: '127.0.0.1:18080',
    servers: ['127.0.0.1:18081', '127.0.0.1:18082'],
    root: path.join(tmp, 'browser'),
    accessLog: `${path.join(tmp, 'e2e', 'access.log')} e2e`,
    extraServerDirectives: ['add_header X-Served-By $upstream_addr always;'],
  }));

  // 3. the variant for replicas that share the session store: no affinity, otherwise the same
  const storeConf = path.join(path.dirname(PRODUCTION_CONF), 'oidc-bff-store.conf');
  const END = '# ---- end balancing ----\n';
  const tailOf = (file) => {
    const text = fs.readFileSync(file, 'utf8');
    const at = text.indexOf(END);
    return at >= 0 && text.indexOf(END, at + 1) < 0 ? text.slice(at) : null;
  };
  const storeText = fs.readFileSync(storeConf, 'utf8');
  const problems = [];
  if (tailOf(PRODUCTION_CONF) == null || tailOf(storeConf) == null) {
    problems.push(`each file needs exactly one "${END.trim()}" line`);
  } else if (tailOf(PRODUCTION_CONF) !== tailOf(storeConf)) {
    problems.push(`differs from ${path.basename(PRODUCTION_CONF)} below "${END.trim()}": make the same change in both`);
  }
  if (/^\s*hash\s/m.test(storeText) || /^\s*(ip_hash|sticky)\b/m.test(storeText) || storeText.includes('$bff_affinity')) {
    problems.push('has session affinity (hash, ip_hash, sticky or $bff_affinity): it is the variant without');
  }
  if (!/^upstream bff \{$/m.test(storeText)) problems.push('has no `upstream bff {` block');
  for (const p of problems) console.log(`${path.relative(process.cwd(), storeConf)}: ${p}`);
  console.log(`${problems.length ? 'FAIL' : 'ok  '} store-variant (no affinity, identical below the balancing section)`);
  if (problems.length) failed = true;
  run('store', forCheck(storeConf, 'store'), { affinity: false });
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
