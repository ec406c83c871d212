import { TsdbError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ConsumeOptions, LogConsumer, LogRecord, ReadOptions } from '../types.js';
import { describeError } from './fs-util.js';

/** What a consumer needs from the log; keeps the consumer testable and free of segment details. */
export interface ConsumerHost {
  readonly partitions: number;
  readonly logger: Logger;
  read(partition: number, from: number, opts: ReadOptions): Promise<LogRecord[]>;
  /** Resolves when records at or after `offset` are visible; `cancel` resolves it early. */
  waitBeyond(partition: number, offset: number): { promise: Promise<void>; cancel(): void };
}

/**
 * Delivers one partition: read a batch, hand it to onBatch, wait for the promise, repeat; at the end of the
 * log it sleeps on the partition's append notification instead of polling.
 */
class PartitionRunner {
  readonly done: Promise<void>;
  private stopped = false;
  private cancelWait: (() => void) | undefined;

  constructor(
    private readonly host: ConsumerHost,
    private readonly opts: ConsumeOptions,
    readonly partition: number,
    private readonly from: number,
    /** The runner this one replaces: never deliver while its onBatch may still be running. */
    after: Promise<void> | undefined,
    private readonly onFailed: (r: PartitionRunner) => void,
  ) {
    this.done = (after ?? Promise.resolve()).then(() => this.run());
  }

  stop(): void {
    this.stopped = true;
    this.cancelWait?.();
  }

  private async run(): Promise<void> {
    let next = this.from;
    const readOpts: ReadOptions = { maxRecords: this.opts.maxRecords ?? 1000 };
    while (!this.stopped) {
      let records: LogRecord[];
      try {
        records = await this.host.read(this.partition, next, readOpts);
      } catch (e) {
        if (!this.stopped) this.fail(e);
        return;
      }
      if (this.stopped) return;
      if (records.length === 0) {
        const w = this.host.waitBeyond(this.partition, next);
        this.cancelWait = w.cancel;
        await w.promise;
        this.cancelWait = undefined;
        continue;
      }
      try {
        await this.opts.onBatch(this.partition, records);
      } catch (e) {
        this.fail(e);
        return;
      }
      next = records[records.length - 1]!.offset + 1;
    }
  }

  private fail(e: unknown): void {
    this.stopped = true;
    this.onFailed(this);
    const err = e instanceof Error ? e : new Error(String(e));
    try {
      if (this.opts.onError) this.opts.onError(this.partition, err);
      else this.host.logger.error({ partition: this.partition, err: describeError(err) }, 'consumer stopped delivering partition');
    } catch (cbErr) {
      this.host.logger.error({ partition: this.partition, err: describeError(cbErr) }, 'onError threw');
    }
  }
}

export class TailingConsumer implements LogConsumer {
  private readonly runners = new Map<number, PartitionRunner>();
  /** Includes replaced and failed runners until they finish, so stop() waits for every onBatch. */
  private readonly live = new Set<PartitionRunner>();
  private stopped = false;

  constructor(
    private readonly host: ConsumerHost,
    private readonly opts: ConsumeOptions,
    private readonly onStopped: (c: TailingConsumer) => void,
  ) {}

  assign(partition: number, from: number): void {
    if (this.stopped) throw new TsdbError('TSDB_ERR_LOG_CLOSED', `cannot assign partition (partition ${partition}, offset ${from}): the consumer is stopped`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.host.partitions) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot assign partition (partition ${partition}, partitions ${this.host.partitions}): no such partition`);
    }
    if (!Number.isSafeInteger(from) || from < 0) {
      throw new TsdbError('TSDB_ERR_LOG_OFFSET', `cannot assign partition (partition ${partition}, offset ${from}): offset must be a non-negative integer`);
    }
    const prev = this.runners.get(partition);
    prev?.stop();
    const runner = new PartitionRunner(this.host, this.opts, partition, from, prev?.done, (r) => {
      if (this.runners.get(r.partition) === r) this.runners.delete(r.partition);
    });
    this.runners.set(partition, runner);
    this.live.add(runner);
    void runner.done.then(() => this.live.delete(runner));
  }

  async unassign(partition: number): Promise<void> {
    const runner = this.runners.get(partition);
    if (runner === undefined) return;
    this.runners.delete(partition);
    runner.stop();
    // A runner waits for the one it replaced, so this also covers an earlier assignment still in onBatch.
    await runner.done;
  }

  assigned(): number[] {
    return [...this.runners.keys()].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.runners.clear();
    const all = [...this.live];
    for (const r of all) r.stop();
    await Promise.all(all.map((r) => r.done));
    this.onStopped(this);
  }
}
