/** Injected wherever time matters, so tests can control it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function manualClock(start = 0): Clock & { set(t: number): void; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    set: (v: number) => { t = v; },
    advance: (ms: number) => { t += ms; },
  };
}
