import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configTableMarkdown } from '../../src/common/config-table.js';

const root = new URL('../../../', import.meta.url);

it('README configuration table matches the options table (regenerate: npm run build && node scripts/update-readme-config.mjs)', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.ok(readme.includes(configTableMarkdown()), 'README.md configuration table is stale');
});

it('README keeps the two-command quick start and .ci/run runs the README test command', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.ok(readme.includes('npm install && npm start'));
  assert.ok(readme.includes('npm test'));
  assert.match(readFileSync(new URL('.ci/run', root), 'utf8'), /^npm test$/m);
});
