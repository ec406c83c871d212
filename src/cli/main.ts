#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { SERVE_OPTIONS, envName, resolveServeConfig } from '../common/config.js';
import { isTsdbError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { createNode } from './node.js';
import { runQueryCommand, runWriteCommand } from './client-commands.js';
import { runReplayCommand } from './replay-command.js';

const MAIN_HELP = `tsdb — V3 time-series engine

Usage: tsdb <command> [options]

Commands:
  serve     run a node (all roles, embedded log by default)
  write     send points to a node (JSON, NDJSON or Avro)
  query     run a query against a node
  replay    rebuild partitions from the log (node stopped)

Run 'tsdb <command> --help' for the options of a command.
Every flag has an environment twin: --data-dir → TSDB_DATA_DIR.
`;

function serveHelp(): string {
  const lines = Object.values(SERVE_OPTIONS).map((o) => {
    const def = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
    return `  --${o.flag.padEnd(26)} ${o.help}\n  ${''.padEnd(28)} default: ${def === '' ? '(none)' : def}; env ${envName(o.flag)}`;
  });
  return `Usage: tsdb serve [options]\n\nRuns one node: ingest, materializer and query roles.\n\nOptions:\n${lines.join('\n')}\n  --help                     this text\n`;
}

async function serve(argv: string[]): Promise<void> {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const o of Object.values(SERVE_OPTIONS)) options[o.flag] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(serveHelp());
    return;
  }
  const flags: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') flags[k] = v;
  const config = resolveServeConfig(flags);
  const logger = createLogger({ level: config.logLevel, name: config.nodeId });
  const node = await createNode({ config, logger });
  const address = await node.listen();
  logger.info({ address, dataDir: config.dataDir, partitions: config.partitions, log: config.log }, 'V3 node listening');
  process.stderr.write(`V3 listening on ${address} (data in ${config.dataDir})\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: flushing heads');
    node.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: (e as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'serve':
      return serve(rest);
    case 'write':
      return runWriteCommand(rest);
    case 'query':
      return runQueryCommand(rest);
    case 'replay':
      return runReplayCommand(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(MAIN_HELP);
      if (cmd === undefined) process.exitCode = 2;
      return;
    default:
      throw new Error(`unknown command "${cmd}" (expected serve, write, query or replay; see tsdb --help)`);
  }
}

main().catch((e: unknown) => {
  const msg = isTsdbError(e) ? `${e.code}: ${e.message}` : (e as Error).message;
  process.stderr.write(`tsdb: ${msg.split('\n')[0]}\n`);
  process.exit(1);
});
