/** A point as every entry point sees it after parsing, before validation. */
export interface Point {
  metric: string;
  tags: Record<string, string>;
  /** Milliseconds since the epoch (integer). */
  timestamp: number;
  value: number;
}
