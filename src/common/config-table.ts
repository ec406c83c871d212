import { SERVE_OPTIONS, envName } from './config.js';

/** The README's configuration table, generated from the one options table (a test keeps the README in sync). */
export function configTableMarkdown(): string {
  const rows = Object.values(SERVE_OPTIONS).map((o) => {
    const d = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
    return `| \`--${o.flag}\` | \`${envName(o.flag)}\` | ${d === '' ? '—' : `\`${d}\``} | ${o.help} |`;
  });
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
