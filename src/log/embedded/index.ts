export { createEmbeddedLog, type EmbeddedLog, type EmbeddedLogOptions } from './embedded-log.js';
export type { EmbeddedLogHooks, EmbeddedLogStats } from './log-stats.js';
export { encodeFrame, FRAME_HEADER_BYTES, FRAME_MAGIC } from './record-frame.js';
