/**
 * A machine definition as plain JSON, for the web UI's statechart (`GET /api/machines/process`).
 *
 * Generated from the machine's StateNodes rather than written by hand, so a state added to
 * the machine (or by an extension) shows up in the UI by itself. Paths are dot paths from the
 * root without the machine id (`running.ready.idle`), the same form as `ProcessState.value`,
 * so the UI lights a box by comparing strings.
 */
import type { AnyStateMachine, StateValue } from 'xstate';

export interface ChartTransition {
  /** The event type as the machine sees it ('' for an eventless `always` transition). */
  event: string;
  /** A short label: `after ttl`, `done health`, `error os`, `always`, or the event type. */
  label: string;
  /** Dot paths of the targets; empty for a transition that only runs actions. */
  targets: string[];
  /** Name of the guard, when there is one. */
  guard: string | null;
}

export interface ChartNode {
  key: string;
  /** Dot path from the root ('' for the root itself). */
  path: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child state, or null. */
  initial: string | null;
  tags: string[];
  transitions: ChartTransition[];
  /** Child states, in document order. */
  states: ChartNode[];
}

export interface ChartMachine {
  id: string;
  root: ChartNode;
}

/** The structural view of a StateNode this module reads (xstate's StateNode is generic-heavy). */
interface NodeLike {
  key: string;
  path: string[];
  type: ChartNode['type'];
  tags: string[];
  states: Record<string, NodeLike>;
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[] | undefined;
  initial?: { target: readonly NodeLike[] } | undefined;
}

interface TransitionLike {
  target?: readonly NodeLike[] | undefined;
  guard?: unknown;
}

/** `xstate.after.ttl.process.running.ready.idle` -> `after ttl`, and the like. */
function labelFor(event: string): string {
  if (event === '') return 'always';
  const after = /^xstate\.after\.([^.]+)\./.exec(event);
  if (after) return `after ${after[1]}`;
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(event);
  if (actor) return `${actor[1]} ${actor[2]}`;
  return event;
}

function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  const type = (guard as { type?: unknown }).type;
  return typeof type === 'string' ? type : 'guard';
}

function convertTransition(event: string, t: TransitionLike): ChartTransition {
  return {
    event,
    label: labelFor(event),
    targets: (t.target ?? []).map((n) => n.path.join('.')),
    guard: guardName(t.guard),
  };
}

function convertNode(node: NodeLike): ChartNode {
  const transitions: ChartTransition[] = [];
  for (const [event, ts] of node.transitions) for (const t of ts) transitions.push(convertTransition(event, t));
  for (const t of node.always ?? []) transitions.push(convertTransition('', t));
  const initial = node.type === 'compound' ? node.initial?.target[0]?.key ?? null : null;
  return {
    key: node.key,
    path: node.path.join('.'),
    type: node.type,
    initial,
    tags: [...node.tags],
    transitions,
    states: Object.values(node.states).map(convertNode),
  };
}

/** The whole definition of `machine`, as JSON-safe data. */
export function machineChart(machine: AnyStateMachine): ChartMachine {
  return { id: machine.id, root: convertNode(machine.root as unknown as NodeLike) };
}

/**
 * A snapshot's state value as the dot path of its active leaf (`running.ready.busy`); for
 * parallel regions, every active leaf, comma-separated.
 */
export function stateValuePath(value: StateValue): string {
  if (typeof value === 'string') return value;
  const leaves: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    const inner = stateValuePath(child as StateValue);
    for (const leaf of inner === '' ? [''] : inner.split(',')) leaves.push(leaf === '' ? key : `${key}.${leaf}`);
  }
  return leaves.join(',');
}
