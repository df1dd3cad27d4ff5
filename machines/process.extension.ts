/**
 * The typed way to add states to the process machine (docs/extending.md is the tutorial).
 *
 * An extension names its own actors, actions, guards, delays, tags and events, then says what
 * it adds to which core state. Everything it writes is checked against the core's names plus
 * its own: a misspelt action, guard, delay or actor is a type error, and a misspelt target or
 * state id fails when the machine is built (XState checks targets; createProcessMachine checks
 * the rest for plain JavaScript callers).
 *
 * @example
 * const nap = processExtension({
 *   delays: { napAfter: 30_000 },
 *   types: { tags: {} as 'napping' },
 * });
 * export const napMode = nap.define({
 *   'process.running': { states: { napping: nap.createStateConfig({ tags: ['napping'], on: { ... } }) } },
 *   'process.running.ready.idle': { after: { napAfter: { target: '#process.running.napping' } } },
 * });
 * const machine = createProcessMachine(napMode);
 */
import type {
  ActionFunction,
  AnyActorRef,
  DelayConfig,
  EventObject,
  GuardPredicate,
  MetaObject,
  NonReducibleUnknown,
  ParameterizedObject,
  SetupReturn,
  StateMachine,
  StateNodeConfig,
  StateSchema,
  StateValue,
  UnknownActorLogic,
  Values,
} from 'xstate';
import type { ProcessConfig, ProcessTag } from './process.protocol.ts';
import { processSetup, type ProcessContext, type ProcessEvent } from './process.setup.ts';

type ParamsMap = Record<string, ParameterizedObject['params'] | undefined>;
type ActorMap = Record<string, UnknownActorLogic>;

/** XState's own mapping from `{ name: params }` to `{ type, params }` (not exported by xstate). */
type ToParameterizedObject<T extends ParamsMap> = Values<{ [K in keyof T as K & string]: { type: K & string; params: T[K] } }>;
/** XState's own mapping from `{ src: logic }` to provided actors (not exported by xstate). */
type ToProvidedActor<T extends ActorMap> = Values<{ [K in keyof T as K & string]: { src: K & string; logic: T[K]; id: string | undefined } }>;

/** The names the core declares, read off its setup. */
type CoreParts =
  typeof processSetup extends SetupReturn<any, any, infer A, any, infer Acts, infer G, infer D, any, any, any, any, any>
    ? { actors: A; actions: Acts; guards: G; delays: D }
    : never;
export type CoreActors = CoreParts['actors'];
export type CoreActions = CoreParts['actions'];
export type CoreGuards = CoreParts['guards'];
export type CoreDelay = CoreParts['delays'];

/** What an extension adds to the core's vocabulary (its type; `processExtension` infers it). */
export interface ExtensionTypes {
  actors: ActorMap;
  actions: ParamsMap;
  guards: ParamsMap;
  delays: string;
  tags: string;
  events: EventObject;
}

/** The plain machine: nothing added. */
export interface NoExtension extends ExtensionTypes {
  actors: {};
  actions: {};
  guards: {};
  delays: never;
  tags: never;
  events: never;
}

/** The core's types joined with an extension's. */
export type ProcessEventOf<X extends ExtensionTypes> = ProcessEvent | X['events'];
export type ProcessTagOf<X extends ExtensionTypes> = ProcessTag | X['tags'];
type ActorsOf<X extends ExtensionTypes> = ToProvidedActor<CoreActors & X['actors']>;
type ActionsOf<X extends ExtensionTypes> = ToParameterizedObject<CoreActions & X['actions']>;
type GuardsOf<X extends ExtensionTypes> = ToParameterizedObject<CoreGuards & X['guards']>;
type DelaysOf<X extends ExtensionTypes> = CoreDelay | X['delays'];

/** A state of a process machine with extension X: every name in it is checked. */
export type ProcessStateConfig<X extends ExtensionTypes = NoExtension> = StateNodeConfig<
  ProcessContext,
  ProcessEventOf<X>,
  ActorsOf<X>,
  ActionsOf<X>,
  GuardsOf<X>,
  DelaysOf<X>,
  ProcessTagOf<X>,
  unknown,
  EventObject,
  MetaObject
>;

/** A process machine built by createProcessMachine, with the names of extension X. */
export type ProcessMachine<X extends ExtensionTypes = NoExtension> = StateMachine<
  ProcessContext,
  ProcessEventOf<X>,
  Record<string, AnyActorRef | undefined>,
  ActorsOf<X>,
  ActionsOf<X>,
  GuardsOf<X>,
  DelaysOf<X>,
  StateValue,
  ProcessTagOf<X>,
  ProcessConfig,
  NonReducibleUnknown,
  EventObject,
  MetaObject,
  StateSchema
>;

/**
 * Every state of the core machine, by the id a `#` target names it with. An extension adds to
 * these; it never removes or replaces anything of theirs.
 */
export const CORE_STATE_IDS = [
  'process',
  'process.stopped',
  'process.running',
  'process.running.starting',
  'process.running.starting.launching',
  'process.running.starting.probing',
  'process.running.ready',
  'process.running.ready.idle',
  'process.running.ready.busy',
  'process.running.stopping',
  'process.backoff',
  'process.shutdown',
] as const;
export type CoreStateId = (typeof CORE_STATE_IDS)[number];

/**
 * What an extension may add to one core state:
 * - `states`: new child states (beside `starting` / `ready` / `stopping` when added to
 *   `process.running`; beside `stopped` / `running` / ... when added to `process`);
 * - `on`, `after`, `always`: transitions, tried before the core's own for the same event;
 * - `entry`, `exit`: actions run after the core's; `invoke`: actors run beside the core's;
 * - `tags`: added to the state's own.
 */
export type StateAddition<X extends ExtensionTypes = NoExtension> = Pick<
  ProcessStateConfig<X>,
  'states' | 'on' | 'after' | 'always' | 'entry' | 'exit' | 'invoke' | 'tags'
>;
export type ProcessAdditions<X extends ExtensionTypes = NoExtension> = { [K in CoreStateId]?: StateAddition<X> };

/** Implementations an extension brings: its placeholders or real ones; `.provide()` may replace them. */
export interface ExtensionImplementations {
  actors: Record<string, UnknownActorLogic>;
  actions: Record<string, unknown>;
  guards: Record<string, unknown>;
  delays: Record<string, unknown>;
}

/** An extension, ready for createProcessMachine. */
export interface ProcessExtension<X extends ExtensionTypes = ExtensionTypes> {
  readonly implementations: ExtensionImplementations;
  readonly additions: ProcessAdditions<X>;
  /** Type only: the names the extension added. */
  readonly types?: X;
}

/** The typed helpers of an extension: XState's setup helpers, bound to the core's names and the extension's. */
export type ProcessExtensionSetup<X extends ExtensionTypes> = Pick<
  SetupReturn<
    ProcessContext,
    ProcessEventOf<X>,
    CoreActors & X['actors'],
    {},
    CoreActions & X['actions'],
    CoreGuards & X['guards'],
    DelaysOf<X>,
    ProcessTagOf<X>,
    ProcessConfig,
    NonReducibleUnknown,
    EventObject,
    MetaObject
  >,
  'createAction' | 'assign' | 'sendTo' | 'raise' | 'cancel' | 'enqueueActions' | 'log'
> & {
  /**
   * A state, checked against every name the machine has. Unlike XState's generic
   * `createStateConfig`, a misspelt delay under `after` is an error here too.
   */
  createStateConfig(config: ProcessStateConfig<X>): ProcessStateConfig<X>;
  /** What the extension adds to which core state (by its id); the extension createProcessMachine takes. */
  define(additions: ProcessAdditions<X>): ProcessExtension<X>;
};

/**
 * Starts an extension: its own actors, actions, guards and delays (typed against the core's
 * context and events), and the tags and events it adds. Returns typed helpers to write its
 * states with, and `define` to say where they go.
 *
 * A name the core already has is refused: an extension adds, it does not redefine.
 */
export function processExtension<
  TActors extends ActorMap = {},
  TActions extends ParamsMap = {},
  TGuards extends ParamsMap = {},
  TDelay extends string = never,
  TTag extends string = never,
  TEvent extends EventObject = never,
>(impl: {
  types?: { tags?: TTag; events?: TEvent };
  actors?: TActors;
  actions?: {
    [K in keyof TActions]: ActionFunction<
      ProcessContext,
      ProcessEvent | TEvent,
      ProcessEvent | TEvent,
      TActions[K],
      ToProvidedActor<CoreActors & TActors>,
      ToParameterizedObject<CoreActions & TActions>,
      ToParameterizedObject<CoreGuards & TGuards>,
      CoreDelay | TDelay,
      EventObject
    >;
  };
  guards?: {
    [K in keyof TGuards]: GuardPredicate<ProcessContext, ProcessEvent | TEvent, TGuards[K], ToParameterizedObject<CoreGuards & TGuards>>;
  };
  delays?: {
    [K in TDelay]: DelayConfig<ProcessContext, ProcessEvent | TEvent, ToParameterizedObject<CoreActions & TActions>['params'], ProcessEvent | TEvent>;
  };
}): ProcessExtensionSetup<{ actors: TActors; actions: TActions; guards: TGuards; delays: TDelay; tags: TTag; events: TEvent }> {
  type X = { actors: TActors; actions: TActions; guards: TGuards; delays: TDelay; tags: TTag; events: TEvent };
  const implementations: ExtensionImplementations = {
    actors: { ...impl.actors },
    actions: { ...impl.actions },
    guards: { ...impl.guards },
    delays: { ...impl.delays },
  };
  refuseCoreNames(implementations);
  // At run time the helpers are XState's own (createStateConfig returns its argument); only
  // their types are widened to the extension's names.
  const helpers = processSetup.extend({
    actions: implementations.actions as never,
    guards: implementations.guards as never,
    delays: implementations.delays as never,
  }) as unknown as ProcessExtensionSetup<X>;
  return {
    createStateConfig: helpers.createStateConfig,
    createAction: helpers.createAction,
    assign: helpers.assign,
    sendTo: helpers.sendTo,
    raise: helpers.raise,
    cancel: helpers.cancel,
    enqueueActions: helpers.enqueueActions,
    log: helpers.log,
    define: (additions) => ({ implementations, additions }),
  };
}

/** The core's own implementation names, which an extension may not redefine. */
const CORE_NAMES = (() => {
  const probe = processSetup.createMachine({ context: {} as never }) as unknown as { implementations: Record<keyof ExtensionImplementations, object> };
  return {
    actors: new Set(Object.keys(probe.implementations.actors)),
    actions: new Set(Object.keys(probe.implementations.actions)),
    guards: new Set(Object.keys(probe.implementations.guards)),
    delays: new Set(Object.keys(probe.implementations.delays)),
  };
})();

function refuseCoreNames(impl: ExtensionImplementations): void {
  for (const kind of ['actors', 'actions', 'guards', 'delays'] as const) {
    for (const name of Object.keys(impl[kind])) {
      if (CORE_NAMES[kind].has(name)) {
        throw new Error(`process extension: the core machine already has a ${kind.slice(0, -1)} named '${name}'`);
      }
    }
  }
}
