/**
 * The `inspect` setting (config key, or `--inspect`): which XState inspection to run. A value
 * of the config like any other; what each mode does is observability/inspect.ts's business.
 */

export type InspectMode = 'off' | 'log' | `ws://${string}` | `wss://${string}`;

export function parseInspectMode(value: string): InspectMode {
  const v = value.trim();
  if (v === 'off' || v === 'log' || /^wss?:\/\/[^\s]+$/.test(v)) return v as InspectMode;
  throw new Error(`inspect must be off, log or a ws:// URL, got "${value}"`);
}
