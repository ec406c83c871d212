export * from './common/errors.js';
export * from './common/point.js';
export * from './common/series-key.js';
