/** Moved to src/codec/sketch-codec.ts (the materializer writes rollup sketches and may import codec, never query). */
export * from '../../codec/sketch-codec.js';
