#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's test runner, two files at a time.
// Files named *.serial.test.js disturb shared infrastructure (e.g. restart the Kafka broker), so they run afterwards,
// one at a time. Usage: node scripts/run-tests.mjs [filter-substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

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
const totals = { pass: 0, fail: 0 };
/** Runs one phase, streaming its output and adding its `ℹ pass N` / `ℹ fail N` / `ℹ cancelled N` summary to the totals. */
function run(list, concurrency) {
  if (list.length === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...list], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root });
    let tail = '';
    child.stdout.on('data', (d) => {
      process.stdout.write(d);
      tail = (tail + d.toString('utf8')).slice(-4096);
    });
    child.on('close', (code) => {
      // A test cancelled (e.g. its suite's before-hook threw) did not pass: it counts as failed.
      for (const [k, into] of [['pass', 'pass'], ['fail', 'fail'], ['cancelled', 'fail']]) {
        const m = new RegExp(`^ℹ ${k} (\\d+)$`, 'm').exec(tail);
        if (m) totals[into] += Number(m[1]);
      }
      resolve(code ?? 1);
    });
  });
}
const status = await run(parallel, 2);
const serialStatus = await run(serial, 1);
// A broker the tests started (test/helpers/kafka-broker.ts) is stopped; one started by hand is left running.
spawnSync(process.execPath, [join(root, 'scripts', 'kafka.mjs'), 'stop', '--if-started-by', 'tests'], { stdio: 'inherit' });
// One closing line for the whole run (both phases).
console.log(`${totals.pass} passed, ${totals.fail} failed`);
process.exit(status || serialStatus || (totals.fail > 0 ? 1 : 0));
