import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TsdbError } from '../../common/errors.js';
import { describeError, errnoCode, fsyncDir } from './fs-util.js';

export const META_FILE = 'meta.json';
export const LOCK_FILE = 'LOCK';
const FORMAT = 'v3-embedded-log';
const FORMAT_VERSION = 1;

interface MetaJson {
  format: string;
  version: number;
  partitions: number;
}

/** Directories this process has open: two instances on one directory would interleave writes. */
const openInProcess = new Set<string>();

/**
 * Claims the directory for this process: in-process registry plus a LOCK file holding the pid.
 * A LOCK left by a dead process (or by an earlier incarnation with our own pid, e.g. pid 1 in a container) is taken over.
 */
export async function lockLogDir(dir: string): Promise<() => Promise<void>> {
  const key = resolve(dir);
  if (openInProcess.has(key)) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${key}): it is already open in this process`);
  }
  openInProcess.add(key);
  const lockPath = join(key, LOCK_FILE);
  try {
    await mkdir(key, { recursive: true });
    let holder: number | undefined;
    try {
      holder = Number.parseInt(await readFile(lockPath, 'utf8'), 10);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
    if (holder !== undefined && Number.isInteger(holder) && holder !== process.pid && processAlive(holder)) {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${key}, lock holder pid ${holder}): another live process holds ${lockPath}; remove it only if that process is not a V3 node`);
    }
    await writeFile(lockPath, `${process.pid}\n`);
  } catch (e) {
    openInProcess.delete(key);
    if (e instanceof TsdbError) throw e;
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${key}): cannot take ${lockPath}: ${describeError(e)}`, { cause: e });
  }
  return async () => {
    openInProcess.delete(key);
    await rm(lockPath, { force: true }).catch(() => undefined);
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * meta.json pins the partition count: re-partitioning would move series between partitions and break every
 * stored offset, so opening with another count fails instead of silently adapting.
 */
export async function checkOrWriteMeta(dir: string, partitions: number, fsync: boolean): Promise<void> {
  const path = join(dir, META_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${dir}): cannot read ${path}: ${describeError(e)}`, { cause: e });
  }
  if (text === undefined) {
    const strays = (await readdir(dir)).filter((n) => /^p-\d{5}$/.test(n));
    if (strays.length > 0) {
      throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${dir}, ${strays.length} partition directories): ${META_FILE} is missing, so the partition count is unknown`);
    }
    const meta: MetaJson = { format: FORMAT, version: FORMAT_VERSION, partitions };
    // Written before any partition directory exists, via rename, so a crash never leaves a half-written meta.
    const tmp = `${path}.tmp`;
    const h = await open(tmp, 'w');
    try {
      await h.writeFile(`${JSON.stringify(meta, null, 2)}\n`);
      if (fsync) await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, path);
    if (fsync) await fsyncDir(dir);
    return;
  }
  let meta: Partial<MetaJson>;
  try {
    meta = JSON.parse(text) as Partial<MetaJson>;
  } catch (e) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${dir}): ${path} is not JSON: ${describeError(e)}`, { cause: e });
  }
  if (meta.format !== FORMAT || meta.version !== FORMAT_VERSION) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${dir}, format ${String(meta.format)} v${String(meta.version)}): expected ${FORMAT} v${FORMAT_VERSION}`);
  }
  if (meta.partitions !== partitions) {
    throw new TsdbError(
      'TSDB_ERR_CONFIG_INVALID',
      `cannot open log (dir ${dir}, partitions ${partitions}): it was created with ${String(meta.partitions)} partitions; re-partitioning an existing log is not supported`,
    );
  }
  const strays = (await readdir(dir)).filter((n) => /^p-\d{5}$/.test(n) && Number(n.slice(2)) >= partitions);
  if (strays.length > 0) {
    throw new TsdbError('TSDB_ERR_CONFIG_INVALID', `cannot open log (dir ${dir}, partitions ${partitions}): unexpected partition directories ${strays.join(', ')}`);
  }
}
