import { mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { FrameReader } from './frame-reader.js';
import { fsyncDir } from './fs-util.js';
import { frameCrcOk } from './record-frame.js';
import { parseSegmentFileName, Segment } from './segment.js';

const SCAN_CHUNK_BYTES = 1 << 20;

export function partitionDirName(partition: number): string {
  return `p-${String(partition).padStart(5, '0')}`;
}

/**
 * Opens one partition directory: scans every segment (CRC included), builds the sparse indexes, truncates a
 * torn tail of the LAST segment, and marks damage in earlier segments so reads refuse to cross it.
 * Returns the segments oldest first; there is always at least one (the active segment).
 */
export async function recoverPartition(partition: number, root: string, logger: Logger, fsync: boolean): Promise<Segment[]> {
  const dir = join(root, partitionDirName(partition));
  const created = (await mkdir(dir, { recursive: true })) !== undefined;
  if (created && fsync) await fsyncDir(dirname(dir));

  const bases: number[] = [];
  for (const name of await readdir(dir)) {
    const base = parseSegmentFileName(name);
    if (base === undefined) logger.warn({ partition, file: join(dir, name) }, 'ignoring unknown file in partition directory');
    else bases.push(base);
  }
  bases.sort((a, b) => a - b);

  const segments: Segment[] = [];
  try {
    for (let i = 0; i < bases.length; i++) {
      const seg = await scanSegment(partition, dir, bases[i]!, i === bases.length - 1, logger, fsync);
      const prev = segments[segments.length - 1];
      if (prev) checkContinuity(prev, seg, logger);
      segments.push(seg);
    }
    if (segments.length === 0) {
      segments.push(await Segment.create(partition, dir, 0));
      if (fsync) await fsyncDir(dir);
    } else if (fsync) {
      // Records a crashed process wrote but never synced are about to become visible; make them durable first.
      await segments[segments.length - 1]!.handle.datasync();
    }
  } catch (e) {
    await Promise.all(segments.map((s) => s.retire()));
    throw e;
  }
  return segments;
}

function checkContinuity(prev: Segment, seg: Segment, logger: Logger): void {
  if (seg.baseOffset < prev.endOffset) {
    throw new TsdbError(
      'TSDB_ERR_LOG_CORRUPT',
      `cannot open segment (partition ${seg.partition}, segment ${seg.path}, base offset ${seg.baseOffset}): it overlaps ${prev.path}, which ends at offset ${prev.endOffset}`,
    );
  }
  if (seg.baseOffset > prev.endOffset && prev.corrupt === undefined) {
    prev.corrupt = { offset: prev.endOffset, position: prev.size, reason: `records ${prev.endOffset}..${seg.baseOffset - 1} are missing (no segment holds them)` };
    logger.error({ partition: seg.partition, offset: prev.endOffset, segment: prev.path }, 'gap between segments; reads will stop there');
  }
}

async function scanSegment(partition: number, dir: string, base: number, isLast: boolean, logger: Logger, fsync: boolean): Promise<Segment> {
  const path = join(dir, `${String(base).padStart(20, '0')}.log`);
  const fileBytes = (await stat(path)).size;
  const handle = await open(path, 'r+');
  const seg = new Segment(partition, base, path, handle);
  try {
    const reader = new FrameReader(handle, 0, fileBytes, SCAN_CHUNK_BYTES);
    let expected = base;
    let problem: { position: number; reason: string } | undefined;
    for (;;) {
      const step = await reader.next();
      if (step.kind === 'end') break;
      if (step.kind === 'bad') {
        problem = step;
        break;
      }
      const h = step.header;
      if (h.offset !== expected) {
        problem = { position: step.position, reason: `found offset ${h.offset} where ${expected} was expected` };
        break;
      }
      if (!frameCrcOk(step.buf, step.at, h)) {
        problem = { position: step.position, reason: 'CRC mismatch' };
        break;
      }
      seg.addMark(expected, step.position);
      // Max, not last: a clock that stepped back must not make a segment look older than its newest record.
      if (seg.lastTimestamp === undefined || h.timestamp > seg.lastTimestamp) seg.lastTimestamp = h.timestamp;
      expected++;
      seg.size = reader.position;
    }
    seg.endOffset = expected;
    if (problem === undefined) return seg;

    const dropped = fileBytes - problem.position;
    if (isLast) {
      // A crash mid-write leaves a torn tail; nothing in it was acknowledged (acks follow fsync), so cut it.
      logger.warn(
        { partition, offset: expected, position: problem.position, bytesDropped: dropped, segment: path, reason: problem.reason },
        'truncating torn tail of the last segment',
      );
      await handle.truncate(problem.position);
      if (fsync) await handle.datasync();
    } else {
      seg.corrupt = { offset: expected, position: problem.position, reason: problem.reason };
      logger.error(
        { partition, offset: expected, position: problem.position, bytesAfter: dropped, segment: path, reason: problem.reason },
        'corrupt record inside a sealed segment; reads will stop there',
      );
    }
    return seg;
  } catch (e) {
    await seg.retire();
    throw e;
  }
}
