/** Moved to src/codec/sketch-key-store.ts (the materializer writes rollup sketches and may import codec, never query). */
export * from '../../codec/sketch-key-store.js';
