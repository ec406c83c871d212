/** Whether reads of cold-only ranges may skip the hot tier's iterator (PartitionState.hotHolds says when). */
import type { Logger } from '../common/logger.js';
import { partitionBlockRange } from '../store/row-keys.js';
import type { KvStore } from '../store/types.js';

export class HotTierProbe {
  /** Bumped when scanBlocks resets tierStats. */
  private statsEpoch = 0;
  /** Whether the hot tier held no block when `base` hot blocks were counted (see mayHold); before scanBlocks ran. */
  private probe: { epoch: number; base: number; empty: boolean | undefined } | undefined;

  constructor(
    private readonly hot: KvStore,
    private readonly partition: number,
    private readonly log: Logger,
  ) {}

  /** The hot block count restarts from zero (scanBlocks): a probe's baseline no longer applies. */
  countsRestarted(): void {
    this.statsEpoch++;
  }

  /**
   * False when the hot tier holds no block: `hotBlocks` is exact (`scanned`) or, before that, no hot block was
   * counted since a probe saw the hot tier empty. The first call starts that probe.
   */
  mayHold(hotBlocks: number, scanned: boolean): boolean {
    if (scanned) return hotBlocks !== 0;
    const p = this.probe;
    if (p === undefined) {
      this.start(hotBlocks);
      return true;
    }
    return !(p.empty === true && p.epoch === this.statsEpoch && hotBlocks === p.base);
  }

  /** Looks (once, in the background) whether the hot tier holds any block of this partition. */
  private start(hotBlocks: number): void {
    // The count and the store snapshot are taken in the same tick: a hot block not in the snapshot is counted later.
    const probe: { epoch: number; base: number; empty: boolean | undefined } = { epoch: this.statsEpoch, base: hotBlocks, empty: undefined };
    this.probe = probe;
    const it = this.hot.iterate({ ...partitionBlockRange(this.partition), limit: 1 })[Symbol.asyncIterator]();
    it.next()
      .then(async (r) => {
        probe.empty = r.done === true;
        if (!r.done) await it.return?.();
      })
      .catch((e: unknown) => this.log.debug({ err: (e as Error).message }, 'hot tier probe failed; reads keep scanning it'));
  }
}
