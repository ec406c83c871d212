#!/usr/bin/env node
// Rewrites the README's configuration table from src/common/config.ts (run after `npm run build`).
import { readFileSync, writeFileSync } from 'node:fs';
const root = new URL('..', import.meta.url);
const { configTableMarkdown } = await import(new URL('dist/src/common/config-table.js', root));
const path = new URL('README.md', root);
const readme = readFileSync(path, 'utf8');
const start = readme.indexOf('| flag | environment |');
const end = readme.indexOf('\n\n', start);
if (start < 0 || end < 0) throw new Error('README has no configuration table');
writeFileSync(path, readme.slice(0, start) + configTableMarkdown() + readme.slice(end));
