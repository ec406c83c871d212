import { TsdbError } from '../common/errors.js';

/** The error every sketch operation throws (create, add, merge, decode): internal, not retriable. */
export function sketchError(what: string, why: string): TsdbError {
  return new TsdbError('TSDB_ERR_INTERNAL', `cannot ${what}: ${why}`, { retriable: false });
}
