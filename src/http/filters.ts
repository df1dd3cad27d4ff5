/**
 * A model's request-body filters (reference/llama-swap.md 2.15): `useModelName`, then
 * `filters.stripParams`, `filters.setParams` and `filters.setParamsByID[requestedId]`.
 *
 * JSON bodies only; the caller checks the Content-Type. Keys are gjson/sjson-style paths:
 * `a.b` addresses `b` inside object `a` (`\.` is a literal dot), a number indexes an
 * existing array.
 */
import type { ModelConfig } from '../config/types.ts';

/** What the filters read of a model, or of a peer (whose `useModelName` is the peer's own id for the model). */
export type FilterSource = Pick<ModelConfig, 'useModelName' | 'filters'>;
import { rewriteModel } from './model-rewrite.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Container = JsonObject | Json[];

/**
 * Applies the filters of `model` to a JSON body requested as `requestedId` (the name the
 * client used, possibly an alias, after profile/selector rewrites).
 *
 * Returns the new body, or null when no rule changes anything (or the body is not a JSON
 * object) — then the caller forwards the original bytes untouched. A body whose only change
 * is the model name is spliced rather than re-serialised, so its other bytes stay exact.
 */
export function applyFilters(body: Buffer, model: FilterSource, requestedId: string): Buffer | null {
  const { stripParams, setParams } = model.filters;
  // Most models have no filters at all: nothing to allocate on the request path (issue 16).
  if (model.useModelName === '' && stripParams.length === 0 && isEmpty(setParams) && isEmpty(model.filters.setParamsByID)) return null;
  const byId = Object.hasOwn(model.filters.setParamsByID, requestedId)
    ? model.filters.setParamsByID[requestedId]
    : undefined;
  const setKeys = applicableKeys(setParams);
  const byIdKeys = byId ? applicableKeys(byId) : [];
  const strip = [...new Set(stripParams.map((p) => p.trim()))].filter((p) => p !== '' && !touchesModel(p)).sort();
  // Most models have no filters: answer without parsing the body at all.
  if (model.useModelName === '' && strip.length === 0 && setKeys.length === 0 && byIdKeys.length === 0) return null;

  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return null; // not JSON after all: forward as is, the upstream will say what is wrong
  }
  if (!isObject(doc)) return null;

  let modelChanged = false;
  if (model.useModelName !== '' && doc.model !== model.useModelName) {
    setOwn(doc, 'model', model.useModelName);
    modelChanged = true;
  }
  let otherChanged = false;
  for (const path of strip) otherChanged = deletePath(doc, splitPath(path)) || otherChanged;
  // Sorted, so "a" is set before "a.b" and the result does not depend on YAML key order.
  for (const key of setKeys) otherChanged = setPath(doc, splitPath(key), setParams[key]) || otherChanged;
  if (byId) for (const key of byIdKeys) otherChanged = setPath(doc, splitPath(key), byId[key]) || otherChanged;

  if (otherChanged) return Buffer.from(JSON.stringify(doc), 'utf8');
  if (modelChanged) return rewriteModel(body, 'application/json', model.useModelName);
  return null;
}

/** Whether `o` has no keys (without building the list of them). */
function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}

/** The keys of a params map that may be applied, sorted bytewise like Go's sort.Strings. */
function applicableKeys(params: Record<string, unknown>): string[] {
  return Object.keys(params)
    .filter((k) => k !== '' && !touchesModel(k))
    .sort();
}

/**
 * Whether a path would touch the top-level `model`. That field is routing's business
 * (`useModelName` is the way to change it), so filters never strip or set it.
 */
function touchesModel(path: string): boolean {
  return splitPath(path)[0] === 'model';
}

/** Splits a path at unescaped dots; `\x` stands for a literal `x`. */
export function splitPath(path: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\' && i + 1 < path.length) {
      cur += path[++i];
    } else if (c === '.') {
      parts.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(part: string): boolean {
  return /^(0|[1-9][0-9]*)$/.test(part);
}

/**
 * Defines an own property. Plain assignment of `__proto__` would replace the object's
 * prototype instead of adding a key; defineProperty always adds the key.
 */
function setOwn(obj: JsonObject, key: string, value: Json): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/** The child of a container under `part`, if present. */
function child(container: Container, part: string): Json | undefined {
  if (Array.isArray(container)) return isIndex(part) ? container[Number(part)] : undefined;
  return Object.hasOwn(container, part) ? container[part] : undefined;
}

/** Removes the value at `parts`; returns whether something was removed. */
function deletePath(doc: JsonObject, parts: string[]): boolean {
  let cur: Container = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = child(cur, parts[i]!);
    if (typeof next !== 'object' || next === null) return false;
    cur = next;
  }
  const last = parts[parts.length - 1]!;
  if (Array.isArray(cur)) {
    if (!isIndex(last) || Number(last) >= cur.length) return false;
    cur.splice(Number(last), 1);
    return true;
  }
  if (!Object.hasOwn(cur, last)) return false;
  delete cur[last];
  return true;
}

/**
 * Sets `value` at `parts`, creating intermediate objects (and replacing non-containers on
 * the way, as sjson does). `-1` appends to an existing array; a too-large index pads it
 * with nulls. Returns whether the body changed.
 */
function setPath(doc: JsonObject, parts: string[], value: unknown): boolean {
  // A copy: the config's value must not be shared with (and later mutated through) a body.
  const v = structuredClone(value) as Json;
  let cur: Container = doc;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const last = i === parts.length - 1;
    if (Array.isArray(cur) && (isIndex(part) || part === '-1')) {
      const idx: number = part === '-1' ? cur.length : Number(part);
      if (last) {
        if (idx < cur.length && deepEqual(cur[idx], v)) return false;
        while (cur.length < idx) cur.push(null);
        cur[idx] = v;
        return true;
      }
      let next: Json | undefined = cur[idx];
      if (typeof next !== 'object' || next === null) {
        while (cur.length < idx) cur.push(null);
        next = {};
        cur[idx] = next;
      }
      cur = next;
      continue;
    }
    if (Array.isArray(cur)) {
      // A non-index key inside an array addresses nothing; leave the body as it is.
      return false;
    }
    if (last) {
      if (Object.hasOwn(cur, part) && deepEqual(cur[part], v)) return false;
      setOwn(cur, part, v);
      return true;
    }
    let next: Json | undefined = Object.hasOwn(cur, part) ? cur[part] : undefined;
    if (typeof next !== 'object' || next === null) {
      next = {};
      setOwn(cur, part, next);
    }
    cur = next;
  }
  return false;
}

/** Structural equality of JSON values (object key order ignored). */
function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  const ak = Object.keys(ao);
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]));
}
