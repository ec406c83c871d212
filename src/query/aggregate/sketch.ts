/** Moved to src/codec/sketch.ts (the materializer writes rollup sketches and may import codec, never query). */
export * from '../../codec/sketch.js';
