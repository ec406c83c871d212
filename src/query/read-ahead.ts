/**
 * Reads `count` items with up to `window` reads in flight, handing the results back strictly in index order.
 *
 * Why: one series read is a few round trips to the store's thread pool (an iterator per tier, opened, read, closed);
 * awaiting them one after another leaves the main thread idle for most of a query. Consumers still see results in
 * the original order, so whatever they compute from them (floating-point sums included) is unchanged.
 *
 * The signal is checked before each read starts and after each result is taken. A read that fails is reported when
 * its turn comes (reads started after it may still be running; their results are dropped).
 */
export async function* readAhead<T>(count: number, window: number, read: (i: number) => Promise<T>, signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
  const inFlight: Promise<T>[] = [];
  let next = 0;
  const launch = (): void => {
    signal?.throwIfAborted();
    const p = read(next++);
    // Handled now, awaited in turn: a failure while earlier reads are pending is not an unhandled rejection.
    p.catch(() => undefined);
    inFlight.push(p);
  };
  const w = Math.max(1, window);
  for (let taken = 0; taken < count; taken++) {
    while (next < count && inFlight.length < w) launch();
    const v = await inFlight.shift()!;
    signal?.throwIfAborted();
    yield v;
  }
}
