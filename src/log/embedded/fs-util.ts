import { open, type FileHandle } from 'node:fs/promises';

/** writev can write fewer bytes than asked (IOV_MAX, signals, full disks); keep going until all is on file. */
export async function writeFully(handle: FileHandle, buffers: Buffer[], position: number): Promise<number> {
  let total = 0;
  for (const b of buffers) total += b.length;
  let written = 0;
  let bufs = buffers;
  while (written < total) {
    const { bytesWritten } = await handle.writev(bufs, position + written);
    if (bytesWritten <= 0) throw new Error(`short write: ${written} of ${total} bytes`);
    written += bytesWritten;
    if (written < total) bufs = dropPrefix(bufs, bytesWritten);
  }
  return total;
}

function dropPrefix(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** Reads up to `length` bytes at `position`; fewer only at end of file. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await handle.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** A new directory entry (segment file, meta.json) is only durable once its directory is fsynced. */
export async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

export function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

export function describeError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
