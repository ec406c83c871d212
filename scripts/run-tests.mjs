#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, two files at a time.
// Files named *.serial.test.js disturb shared infrastructure (e.g. restart the Kafka broker), so they run afterwards,
// one at a time. Usage: node scripts/run-tests.mjs [filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');
const filters = process.argv.slice(2);

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(testDir, [])
  .filter((f) => filters.length === 0 || filters.some((s) => relative(root, f).includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const serial = files.filter((f) => f.endsWith('.serial.test.js'));
const parallel = files.filter((f) => !f.endsWith('.serial.test.js'));
const run = (list, concurrency) =>
  list.length === 0
    ? 0
    : (spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list], { stdio: 'inherit', cwd: root }).status ?? 1);
const status = run(parallel, 2) || 0;
const serialStatus = run(serial, 1);
// A broker the tests started (test/helpers/kafka-broker.ts) is stopped; one started by hand is left running.
spawnSync(process.execPath, [join(root, 'scripts', 'kafka.mjs'), 'stop', '--if-started-by', 'tests'], { stdio: 'inherit' });
process.exit(status || serialStatus);
