/**
 * Which profile is active (reference 2.7, 3.12): at most one, in memory only, per server
 * state. A reload builds a new state, so no profile is active after it, as in llama-swap.
 */
import type { ProfileConfig } from '../config/types.ts';

/** The active profile as one request sees it: read once, then unaffected by a later switch. */
export interface ProfileSnapshot {
  name: string;
  /** Pin name -> target; '' disables the pin name. */
  pins: Readonly<Record<string, string>>;
}

export type ProfileSwitch = { ok: true; changed: boolean } | { ok: false };

export class ActiveProfile {
  private active: ProfileConfig | null = null;
  private readonly listeners = new Set<(name: string | null) => void>();

  constructor(private readonly profiles: Readonly<Record<string, ProfileConfig>>) {}

  /** The active profile's name, or null. */
  get name(): string | null {
    return this.active?.name ?? null;
  }

  /** What a request applies; null when none is active. The config is immutable, so no copy. */
  snapshot(): ProfileSnapshot | null {
    return this.active;
  }

  /**
   * Activates `name`, or deactivates with null (llama-swap: `""` too). Unknown names change
   * nothing. Listeners hear only real changes.
   */
  set(name: string | null): ProfileSwitch {
    let next: ProfileConfig | null = null;
    if (name !== null && name !== '') {
      if (!Object.hasOwn(this.profiles, name)) return { ok: false };
      next = this.profiles[name] ?? null;
    }
    if (next === this.active) return { ok: true, changed: false };
    this.active = next;
    for (const listener of this.listeners) listener(this.name);
    return { ok: true, changed: true };
  }

  /** Calls `listener` with the new name (null: none) on every change. Returns the unsubscribe. */
  subscribe(listener: (name: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
