/**
 * The runtime's one stream of process changes: every snapshot of every model's process
 * actor, for whoever watches models move (the state view, the event hub).
 *
 * It follows the actor that is a model's process NOW. The scheduler replaces a process actor
 * that throws by a fresh one under the same id (`childError` in machines/scheduler.machine.ts);
 * a watcher that subscribed to the actors it found at start would keep watching the dead one,
 * and `/api/state` and `/api/events` would stop following that model. So the stream watches
 * the scheduler's children too, and moves to a replacement as soon as it appears (a crash's,
 * or a reload's for a changed model), and forgets a model whose actor a reload removed.
 */
import type { AnyActorRef, Subscription } from 'xstate';
import type { ProcessContext } from '../../machines/process.machine.ts';

/** What the runtime reads of a process actor's snapshot: its state, context and tags. */
export interface ProcessSnapshot {
  value: unknown;
  context: ProcessContext;
  hasTag(tag: string): boolean;
  /** Whether the process would take this event now. */
  can(event: { type: string }): boolean;
}

/**
 * Called with the model and its process's new snapshot; `fresh` when it is the first one of an
 * actor that has just become the model's process (a reload's replacement, a respawn), which
 * may already have left its first state (the scheduler can start it in the same step).
 */
export type ProcessChangeListener = (model: string, snapshot: ProcessSnapshot, fresh: boolean) => void;

/** The scheduler actor, as far as the stream needs it. */
export interface ProcessParent {
  getSnapshot(): { children: Record<string, AnyActorRef | undefined> };
  subscribe(observer: { next: (snapshot: { children: Record<string, AnyActorRef | undefined> }) => void; error: () => void }): Subscription;
}

const PROCESS_PREFIX = 'process:';

interface Watched {
  actor: AnyActorRef;
  subscription: Subscription;
  /** The snapshot last told to the listeners. */
  last: unknown;
}

export class ProcessChanges {
  private readonly watched = new Map<string, Watched>();
  private readonly listeners = new Set<ProcessChangeListener>();
  /** The children record last looked through: the scheduler copies it only when a child comes or goes. */
  private children: Record<string, AnyActorRef | undefined> | null = null;

  constructor(parent: ProcessParent) {
    this.follow(parent.getSnapshot().children);
    // Runs on every scheduler snapshot (a few per request): one comparison, unless a child
    // came or went (a swap, a respawn).
    parent.subscribe({ next: (snapshot) => this.follow(snapshot.children), error: () => {} });
  }

  /** Hears every process change from now on; returns the unsubscribe. */
  subscribe(listener: ProcessChangeListener): () => void {
    // A wrapper per subscription: one listener subscribed twice is two subscriptions.
    const entry: ProcessChangeListener = (model, snapshot, fresh) => listener(model, snapshot, fresh);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /** The models that have a process actor. */
  models(): IterableIterator<string> {
    return this.watched.keys();
  }

  /** The actor that is `model`'s process now, or undefined for an unknown model. */
  actor(model: string): AnyActorRef | undefined {
    return this.watched.get(model)?.actor;
  }

  /** `model`'s process snapshot now, or undefined for an unknown model. */
  snapshot(model: string): ProcessSnapshot | undefined {
    return this.watched.get(model)?.actor.getSnapshot() as ProcessSnapshot | undefined;
  }

  private follow(children: Record<string, AnyActorRef | undefined>): void {
    if (children === this.children) return;
    this.children = children;
    for (const id in children) {
      const actor = children[id];
      if (!actor || !id.startsWith(PROCESS_PREFIX)) continue;
      const model = id.slice(PROCESS_PREFIX.length);
      const old = this.watched.get(model);
      if (old?.actor === actor) continue;
      if (old) this.leave(model, old);
      const w: Watched = { actor, subscription: null!, last: null };
      w.subscription = actor.subscribe({ next: (snapshot) => this.tell(model, w, snapshot), error: () => {} });
      this.watched.set(model, w);
      // A replacement (or a model a reload added) starts in a state of its own: a change too.
      this.tell(model, w, actor.getSnapshot(), true);
    }
    // A model a reload removed: its process actor is gone, and so is the model.
    for (const [model, w] of this.watched) {
      if (children[PROCESS_PREFIX + model]) continue;
      this.leave(model, w);
      this.watched.delete(model);
    }
  }

  /**
   * Stops following an actor the scheduler let go. Its last step (to `stopped`, which is what
   * made the scheduler let it go) is taken while the scheduler handles the event that step
   * sent, before the actor's own observers hear of it: tell it now, or nobody ever does.
   */
  private leave(model: string, w: Watched): void {
    w.subscription.unsubscribe();
    this.tell(model, w, w.actor.getSnapshot());
  }

  private tell(model: string, w: Watched, snapshot: unknown, fresh = false): void {
    if (snapshot === w.last) return;
    w.last = snapshot;
    this.emit(model, snapshot as ProcessSnapshot, fresh);
  }

  private emit(model: string, snapshot: ProcessSnapshot, fresh: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(model, snapshot, fresh);
      } catch {
        /* a watcher's failure is its own: the actors and the other watchers must not see it */
      }
    }
  }
}
