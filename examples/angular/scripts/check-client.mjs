#!/usr/bin/env node
// Checks that the committed generated client (src/app/api/) is exactly what ng-openapi-gen
// produces from the current merged spec (../../openapi/oidc-bff.merged.json): the BFF's own
// endpoints and the relayed APIs (/api/chat, /api/analytics) typed from the demo upstream's
// documents. That file is `oidc-bff openapi --merged` with the dev profile, and a Rust test
// (tests/api/cli.rs) fails while it differs, so both drifts are caught.
//
// It regenerates into a temporary folder with the same settings (ng-openapi-gen.json) and
// compares both trees file by file. Exit 0 when identical; exit 1 listing every file that is
// changed, missing or extra (fix: `npm run generate` and commit src/app/api/); exit 2 when the
// generator itself cannot run (e.g. `npm ci` was not run).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const committed = join(root, 'src', 'app', 'api');
const spec = join(root, '..', '..', 'openapi', 'oidc-bff.merged.json');

let generator;
try {
  const require = createRequire(join(root, 'package.json'));
  generator = join(dirname(require.resolve('ng-openapi-gen/package.json')), 'lib', 'index.js');
} catch {
  console.error('check-client: ng-openapi-gen is not installed; run `npm ci` in examples/angular first');
  process.exit(2);
}

/** Every file under `dir`, as '/'-separated paths relative to it. */
function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join('/'))
    .sort();
}

/** File text with line endings normalized, so a CRLF checkout does not count as a change. */
const read = (file) => readFileSync(file, 'utf8').replace(/\r\n/g, '\n');

const scratch = mkdtempSync(join(tmpdir(), 'oidc-bff-client-'));
try {
  const out = join(scratch, 'api');
  const run = spawnSync(
    process.execPath,
    [generator, '--config', join(root, 'ng-openapi-gen.json'), '--input', spec, '--output', out, '--silent', 'true'],
    { cwd: root, encoding: 'utf8' },
  );
  if (run.status !== 0) {
    console.error('check-client: ng-openapi-gen failed:');
    console.error((run.stderr || run.stdout || '').trim());
    process.exit(2);
  }

  const want = listFiles(out);
  const have = listFiles(committed);
  const problems = [];
  for (const file of want) {
    if (!have.includes(file)) problems.push(`  missing:  src/app/api/${file}`);
    else if (read(join(out, file)) !== read(join(committed, file))) problems.push(`  changed:  src/app/api/${file}`);
  }
  for (const file of have) {
    if (!want.includes(file)) problems.push(`  extra:    src/app/api/${file}`);
  }

  if (problems.length) {
    console.error(
      `check-client: src/app/api/ is out of date with openapi/oidc-bff.merged.json (${problems.length} file(s) differ):`,
    );
    console.error(problems.join('\n'));
    console.error('Run `npm run generate` in examples/angular and commit src/app/api/.');
    process.exit(1);
  }
  console.log(`check-client: src/app/api/ matches openapi/oidc-bff.merged.json (${want.length} files)`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
