/** Moved to src/codec/sketch-error.ts (the materializer writes rollup sketches and may import codec, never query). */
export * from '../../codec/sketch-error.js';
