/**
 * Steps 3 and 4 of the load pipeline: macro expansion and `${PORT}` allocation on the
 * untyped tree, in llama-swap's order (reference 2.16, 2.17):
 *
 * 1. read and validate every `macros:` block (global, then per model);
 * 2. prepare each model: drop its `macros`, remove comment lines from `cmd`/`cmdStop` (a
 *    macro inside a commented-out line must never turn into command text), and put in the
 *    default `proxy` so its `${PORT}` takes part in the same pass as explicit values;
 * 3. substitute the global macros into every top-level value except `models`;
 * 4. read `startPort` (it may itself be a macro);
 * 5. per model in sorted id order: substitute its scope (`MODEL_ID`, globals, own macros),
 *    then `${PORT}`, also in `filters.setParamsByID` keys;
 * 6. reject leftovers.
 *
 * All of it shares one MacroBudget: the text substitution may produce is bounded.
 */
import { checkLeftoverMacros } from './leftover-macros.ts';
import { MacroBudget, substituteSetParamsByIDKeys, substituteTree } from './macro-substitute.ts';
import { MACRO_REFERENCE, MacroScope, readMacros, setParamsByID, type Macro } from './macros.ts';
import { MAX_PORT } from './limits.ts';
import { allocatePort, DEFAULT_START_PORT } from './ports.ts';
import { ConfigError } from './config-error.ts';
import { describeValue } from './field.ts';
import type { RawMap, SourceMap } from './yaml-tree.ts';

export const DEFAULT_PROXY = 'http://localhost:${PORT}';

/** Expands every macro of `root` in place. */
export function expandMacros(root: RawMap, sources: SourceMap): void {
  const where = (...path: string[]): string | undefined => sources.where(root, path);

  const globals = MacroScope.of(
    readMacros(root.get('macros'), '', (name) => (name === undefined ? where('macros') : where('macros', name))),
  );
  const budget = new MacroBudget();
  const models = root.get('models');
  const modelMaps = new Map<string, RawMap>();
  const locals = new Map<string, Macro[]>();
  if (models instanceof Map) {
    for (const [id, value] of models) {
      // A bare `id:` is a model with every default, not something to skip.
      const model = value instanceof Map ? value : value === null ? new Map() : null;
      if (!model) continue;
      if (model !== value) models.set(id, model);
      modelMaps.set(id, model);
      locals.set(
        id,
        readMacros(model.get('macros'), `model ${id}: `, (name) =>
          name === undefined ? where('models', id, 'macros') : where('models', id, 'macros', name),
        ),
      );
    }
  }

  root.delete('macros');
  const proxyWritten = new Set<string>();
  for (const [id, model] of modelMaps) if (prepareModel(model)) proxyWritten.add(id);

  for (const [key, value] of root) {
    if (key !== 'models') root.set(key, substituteTree(value, globals, budget));
  }

  let nextPort = readStartPort(root, sources);
  for (const id of [...modelMaps.keys()].sort()) {
    const model = modelMaps.get(id)!;
    const modelWhere = (...path: string[]): string | undefined => where('models', id, ...path);
    const scope = globals.forModel(id, locals.get(id) ?? [], modelWhere());
    substituteTree(model, scope, budget);
    substituteSetParamsByIDKeys(model, scope, budget, id, sources, (key) => modelWhere('filters', 'setParamsByID', key));
    nextPort = allocatePort(model, id, nextPort, { sources, budget, proxyWritten: proxyWritten.has(id) }, modelWhere);
    checkSetParamsByIDKeys(model, id, modelWhere);
  }

  checkLeftoverMacros(root, sources);
}

/** Step 2 for one model. Returns whether the user wrote its `proxy` (else the default is put in). */
function prepareModel(model: RawMap): boolean {
  model.delete('macros');
  for (const field of ['cmd', 'cmdStop']) {
    const value = model.get(field);
    if (typeof value === 'string') model.set(field, stripCommentLines(value));
  }
  const proxy = model.get('proxy');
  if (proxy !== undefined && proxy !== null) return true;
  model.set('proxy', DEFAULT_PROXY);
  return false;
}

/** Drops the lines of a command whose trimmed text starts with `#`. */
export function stripCommentLines(command: string): string {
  return command
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
}

function readStartPort(root: RawMap, sources: SourceMap): number {
  const value = root.get('startPort');
  if (value === undefined || value === null) return DEFAULT_START_PORT;
  const where = sources.where(root, ['startPort']);
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ConfigError(`startPort: expected an integer, got ${describeValue(value)}`, where);
  }
  if (value < 1) throw new ConfigError('startPort must be greater than 1', where);
  if (value > MAX_PORT) throw new ConfigError(`startPort must be at most ${MAX_PORT}, got ${value}`, where);
  return value;
}

function checkSetParamsByIDKeys(model: RawMap, id: string, where: (...path: string[]) => string | undefined): void {
  const byId = setParamsByID(model);
  if (!byId) return;
  for (const key of byId.keys()) {
    const match = new RegExp(MACRO_REFERENCE.source).exec(key);
    if (match) {
      throw new ConfigError(
        `unknown macro '\${${match[1]}}' found in model ${id} filters.setParamsByID key`,
        where('filters', 'setParamsByID', key),
      );
    }
  }
}
