/**
 * Merging the parsed trees of several config files into one (`-config` + `-config-dir`,
 * reference 1.6), by llama-swap's rules (internal/config/merge.go):
 *
 * - a key present in one file only is kept as it is;
 * - under an identity map (`models`, `groups`, ...; IDENTITY_MAPS) each child names one
 *   thing, so a child defined in two files is an error, never a silent override;
 * - other mappings merge recursively, sequences concatenate (`apiKeys` from two files are
 *   both valid), two scalars must be equal, a null yields to the other side, and a mapping
 *   meeting a sequence (or a scalar) is an error.
 *
 * The merged tree carries one SourceMap whose every entry knows its file and line, so the
 * rest of the pipeline reports `file:line` in the file that wrote the offending key, with no
 * idea that there were several files.
 */
import { ConfigError } from './config-error.ts';
import { SourceMap, type PathSegment, type RawMap, type RawValue } from './yaml-tree.ts';

/** One file's tree, as parseYamlTree returned it. */
export interface SourceTree {
  file: string;
  root: RawMap;
  sources: SourceMap;
}

/**
 * The dotted paths whose children are identities (a model, a group, a peer...): llama-swap's
 * list, word for word. A top-level `matrix` is one too (legacy spelling of the matrix router).
 */
export const IDENTITY_MAPS: ReadonlySet<string> = new Set([
  'models',
  'groups',
  'profiles',
  'selectors',
  'peers',
  'matrix',
  'routing.router.settings.groups',
  'routing.router.settings.matrix',
]);

/**
 * Merges `trees` in order (the first one is the base; later ones are merged into it).
 * The trees' containers are reused and changed in place: pass trees nobody else holds.
 *
 * @param label the merged SourceMap's file, used only where no entry can be located.
 * @throws ConfigError for a duplicate identity, a conflicting scalar or a kind mismatch,
 *   located in the file that introduced it.
 */
export function mergeSourceTrees(trees: readonly SourceTree[], label: string): { root: RawMap; sources: SourceMap } {
  const sources = new SourceMap(label);
  for (const tree of trees) stampOrigins(tree.root, tree, sources);
  const root: RawMap = new Map();
  for (const tree of trees) new Merger(sources, tree.file).mergeMap(root, tree.root, []);
  return { root, sources };
}

/** Copies every entry's origin from the file's own SourceMap to `into`, with the file named. */
function stampOrigins(container: RawMap | RawValue[], tree: SourceTree, into: SourceMap): void {
  const entries: Iterable<[PathSegment, RawValue]> = container instanceof Map ? container : container.entries();
  for (const [key, value] of entries) {
    const origin = tree.sources.get(container, key);
    if (origin) into.set(container, key, { ...origin, file: tree.file });
    // Nesting is bounded (MAX_NESTING) by the parser, so recursion is safe here.
    if (value instanceof Map || Array.isArray(value)) stampOrigins(value, tree, into);
  }
}

type Kind = 'mapping' | 'sequence' | 'scalar';

function kindOf(value: RawValue): Kind {
  return value instanceof Map ? 'mapping' : Array.isArray(value) ? 'sequence' : 'scalar';
}

/** Merges one file (`file`) into the tree built so far. */
class Merger {
  constructor(
    private readonly sources: SourceMap,
    private readonly file: string,
  ) {}

  mergeMap(dst: RawMap, src: RawMap, path: readonly string[]): void {
    for (const [key, value] of src) {
      if (!dst.has(key)) {
        this.take(dst, src, key);
        continue;
      }
      const childPath = [...path, key];
      if (IDENTITY_MAPS.has(childPath.join('.'))) this.mergeIdentities(dst, src, key, childPath);
      else this.mergeValue(dst, src, key, childPath, value);
    }
  }

  /** `dst[key] = src[key]`, with the origin of the file that wrote it. */
  private take(dst: RawMap, src: RawMap, key: string): void {
    dst.set(key, src.get(key)!);
    const origin = this.sources.get(src, key);
    if (origin) this.sources.set(dst, key, origin);
  }

  private mergeIdentities(dst: RawMap, src: RawMap, key: string, path: readonly string[]): void {
    const mine = dst.get(key)!;
    const theirs = src.get(key)!;
    // A bare `models:` (null) in one file and models in another: llama-swap fails here
    // ("expected a mapping"); a null yields everywhere else, so it does here too.
    if (theirs === null) return;
    if (mine === null) return this.take(dst, src, key);
    if (!(mine instanceof Map) || !(theirs instanceof Map)) {
      throw new ConfigError(`conflict at ${quote(path)}: expected a mapping, introduced by ${this.file}`, this.where(src, key));
    }
    for (const id of theirs.keys()) {
      if (mine.has(id)) {
        const message = `duplicate ${key} ${JSON.stringify(id)} found in ${this.file} (already defined in ${this.where(mine, id) ?? 'another config source'})`;
        throw new ConfigError(message, this.where(theirs, id));
      }
      this.take(mine, theirs, id);
    }
  }

  private mergeValue(dst: RawMap, src: RawMap, key: string, path: readonly string[], theirs: RawValue): void {
    const mine = dst.get(key)!;
    if (mine instanceof Map && theirs instanceof Map) return this.mergeMap(mine, theirs, path);
    if (Array.isArray(mine) && Array.isArray(theirs)) {
      theirs.forEach((item, i) => {
        mine.push(item);
        const origin = this.sources.get(theirs, i);
        if (origin) this.sources.set(mine, mine.length - 1, origin);
      });
      return;
    }
    if (theirs === null) return;
    if (mine === null) return this.take(dst, src, key);
    const previous = this.where(dst, key) ?? 'a previous source';
    if (kindOf(mine) !== kindOf(theirs)) {
      const message = `conflict at ${quote(path)}: incompatible YAML node kinds (${kindOf(mine)} vs ${kindOf(theirs)}) introduced by ${this.file} (the ${kindOf(mine)} is at ${previous})`;
      throw new ConfigError(message, this.where(src, key));
    }
    if (!this.sameScalar(dst, src, key)) {
      // The values are not shown: a scalar may be a secret.
      const message = `conflict at ${quote(path)}: ${this.file} sets a different value than a previous source (${previous})`;
      throw new ConfigError(message, this.where(src, key));
    }
  }

  /** Equal as written: `1.10` and `1.1` differ (a string field keeps the text), `5` and `"5"` too. */
  private sameScalar(dst: RawMap, src: RawMap, key: string): boolean {
    const a = dst.get(key);
    const b = src.get(key);
    const textA = this.sources.get(dst, key)?.source;
    const textB = this.sources.get(src, key)?.source;
    return Object.is(a, b) && textA === textB;
  }

  private where(container: RawMap, key: string): string | undefined {
    const origin = this.sources.get(container, key);
    return origin ? `${origin.file ?? this.file}:${origin.line}` : undefined;
  }
}

/** `"routing.router.use"`, as Go's %q prints the dotted path. */
function quote(path: readonly string[]): string {
  return JSON.stringify(path.join('.'));
}
