/**
 * What a process looks like from outside, for listings (`/running`, `/v1/models`, `/api/state`,
 * `/api/events`): a display name for its state and the figures its context keeps.
 *
 * For display only: decisions are made from tags and protocol replies, never from this. It
 * reads any process machine, whatever states an extension added.
 */
import type { ProcessContext } from '../../machines/process.setup.ts';
import { ProcessTag } from '../../machines/process.protocol.ts';

export interface ProcessView {
  /** stopped, starting, ready, stopping, backoff, shutdown, or a state an extension added. */
  state: string;
  /** Null unless the OS process exists. */
  pid: number | null;
  /** Every start, swap-ins included. */
  starts: number;
  /** Unexpected exits and failed starts (see ProcessContext.crashes). */
  crashes: number;
  inFlight: number;
  lastError: string | null;
  /** The model holds its resources (tag `resident`): it counts as loaded. */
  loaded: boolean;
  /** Set while starts are refused after repeated failures. */
  backoff: { error: string; retryAfterMs: number } | null;
}

/** The parts of a process snapshot describeProcess reads. */
export interface ProcessSnapshotLike {
  value: unknown;
  context: ProcessContext;
  hasTag(tag: string): boolean;
}

/**
 * Describes a process snapshot by its top-level state, and inside `running` by the running
 * sub-state (so an extension's `sleeping` shows as `sleeping`).
 *
 * @example describeProcess(actor.getSnapshot()).state // 'ready'
 */
export function describeProcess(snapshot: ProcessSnapshotLike): ProcessView {
  const v = snapshot.value;
  let state = typeof v === 'string' ? v : Object.keys(v as object)[0] ?? 'stopped';
  if (state === 'running' && typeof v === 'object' && v !== null) {
    const inner = (v as Record<string, unknown>)['running'];
    state = typeof inner === 'string' ? inner : Object.keys(inner as object)[0] ?? state;
  }
  const c = snapshot.context;
  return {
    state,
    pid: c.pid,
    starts: c.starts,
    crashes: c.crashes,
    inFlight: c.inFlight,
    lastError: c.lastError,
    loaded: snapshot.hasTag(ProcessTag.resident),
    backoff: snapshot.hasTag(ProcessTag.backoff) ? { error: c.lastError ?? 'start failed', retryAfterMs: c.backoffMs } : null,
  };
}
