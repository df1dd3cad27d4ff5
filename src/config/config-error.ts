/**
 * The one error a config load fails with. It has a module of its own, apart from types.ts,
 * because types.ts takes the model type from the field table (model-fields.ts), and the
 * table's own imports (field.ts, limits.ts, yaml-tree.ts, ...) throw this error: were it
 * in types.ts, those imports would close a cycle.
 */

/** A config that cannot be used; `where` is `file:line` when known. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'ConfigError';
  }
}
