import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeadSizes, createHeadBudget, pickFlushes, type BudgetedHead } from '../../src/materializer/head-budget.js';

const u = (partition: number, bytes: number, flushingBytes = 0) => ({ partition, bytes, flushingBytes });

describe('head budget: partitions to flush (pickFlushes)', () => {
  it('within budget or no budget: nothing', () => {
    assert.deepEqual(pickFlushes([u(0, 500), u(1, 500)], 1000), []);
    assert.deepEqual(pickFlushes([u(0, 5000), u(1, 5000)], 0), []);
  });

  it('over budget: largest heads first until the rest is at most the target (75 % of the budget)', () => {
    // 1200 > 1000; target 750: dropping 600 leaves 600.
    assert.deepEqual(pickFlushes([u(0, 100), u(1, 600), u(2, 300), u(3, 200)], 1000), [1]);
    // Evenly filled: 8 x 150 = 1200, keep <= 750 -> flush 3 (1200 - 450 = 750), ties by partition number.
    assert.deepEqual(pickFlushes([7, 6, 5, 4, 3, 2, 1, 0].map((p) => u(p, 150)), 1000), [0, 1, 2]);
    // Explicit target.
    assert.deepEqual(pickFlushes([u(0, 100), u(1, 600), u(2, 300), u(3, 200)], 1000, 100), [1, 2, 3]);
  });

  it('bytes already being flushed count as freed, and a flushing partition is never picked', () => {
    // 1300 total, 700 of it in flight at partition 1: 600 expected, below the target -> nothing new.
    assert.deepEqual(pickFlushes([u(0, 300), u(1, 700, 700), u(2, 300)], 1000), []);
    // Partition 1 flushing 200 of its 900 (700 arrived since): it cannot flush again, so the next largest go.
    assert.deepEqual(pickFlushes([u(0, 300), u(1, 900, 200), u(2, 400)], 1000), [2, 0]);
  });

  it('a head too large for the budget alone is still flushed (never an empty pick while over budget and nothing in flight)', () => {
    assert.deepEqual(pickFlushes([u(3, 5000)], 1000), [3]);
  });
});

describe('head budget: size estimates (HeadSizes)', () => {
  it('measures on first sight, estimates growth at the guessed bytes per point, re-measures when stale or after a flush', () => {
    const sizes = new HeadSizes(16);
    let walks = 0;
    const measure = (bytes: number) => () => {
      walks++;
      return bytes;
    };
    assert.equal(sizes.size(0, 100, 1000, measure(150)), 150);
    assert.equal(walks, 1);
    // 200 more points, series/4 = 250: estimated, not walked.
    assert.equal(sizes.size(0, 300, 1000, measure(999)), 150 + 200 * 16);
    assert.equal(walks, 1);
    // 251 more points than measured: walked.
    assert.equal(sizes.size(0, 351, 1000, measure(400)), 400);
    assert.equal(walks, 2);
    // Fewer points than measured: a flush ran, walk again.
    assert.equal(sizes.size(0, 10, 1000, measure(20)), 20);
    assert.equal(walks, 3);
  });
});

describe('head budget: controller (createHeadBudget)', () => {
  it('over budget, flushes the largest heads with reason "memory" and waits for the flushes under way', async () => {
    const flushed: Array<[number, string]> = [];
    const heads: BudgetedHead[] = [
      [0, 100, 0],
      [1, 900, 0],
      [2, 400, 50],
    ].map(([partition, total, frozen]) => ({
      partition: partition!,
      headPoints: total!,
      seriesCount: 10,
      headBytes: () => ({ total: total!, frozen: frozen! }),
      flush: async (reason: string) => {
        flushed.push([partition!, reason]);
      },
    }));
    const budget = createHeadBudget({ maxBytes: 1000, heads: () => heads });
    assert.equal(budget.exactTotal(), 1400);
    await budget.afterApply();
    // 1400 - 50 in flight = 1350 > 750: partition 1 goes (450 left); partition 2's running flush is waited for.
    assert.deepEqual(flushed, [[1, 'memory'], [2, 'memory']]);
    flushed.length = 0;
    await createHeadBudget({ maxBytes: 2000, heads: () => heads }).afterApply();
    await createHeadBudget({ maxBytes: 0, heads: () => heads }).afterApply();
    assert.deepEqual(flushed, []);
  });
});
