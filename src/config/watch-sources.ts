/**
 * `--watch-config` (reference 1.5): polling watchers, like llama-swap's (2 s), because polling
 * works on every filesystem, Docker bind mounts and Kubernetes ConfigMaps included, where
 * change notifications are unreliable.
 *
 * - the `-config` file fires on an mtime or size change, or when it appears; a file that
 *   disappears is taken for an editor's rename-and-write in progress and stays quiet;
 * - the `-config-dir` fires when its sorted set of YAML names, or any of their mtimes or
 *   sizes, changes; likewise a directory turning empty or missing stays quiet, and one getting
 *   content back fires.
 *
 * The first look is the baseline and never fires.
 */
import { readdirSync, statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { join } from 'node:path';
import { isYamlName, type ConfigSources } from './load-sources.ts';

/** llama-swap's poll interval. */
export const WATCH_INTERVAL_MS = 2_000;

/** A directory's YAML files at one poll: sorted names, each with `mtimeMs:size`; null when unreadable. */
export type DirSnapshot = ReadonlyArray<readonly [name: string, state: string]> | null;

/** Reads `dir`'s snapshot; a file gone between listing and stat is left out (the next poll sees it go). */
export function scanConfigDir(dir: string): DirSnapshot {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !entry.isDirectory() && isYamlName(entry.name))
      .map((entry) => entry.name);
  } catch {
    return null;
  }
  const out: Array<[string, string]> = [];
  for (const name of names.sort()) {
    try {
      const stats = statSync(join(dir, name));
      out.push([name, `${stats.mtimeMs}:${stats.size}`]);
    } catch {
      /* removed meanwhile */
    }
  }
  return out;
}

/** Whether going from `prev` to `cur` is a change worth a reload (see the module comment). */
export function dirChanged(prev: DirSnapshot, cur: DirSnapshot): boolean {
  if (cur === null || cur.length === 0) return false;
  if (prev === null || prev.length !== cur.length) return true;
  return cur.some(([name, state], i) => prev[i]![0] !== name || prev[i]![1] !== state);
}

/** Whether a `watchFile` poll is a change worth a reload: not a file that went missing. */
export function fileChanged(cur: Stats, prev: Stats): boolean {
  // watchFile reports a missing file with every field zeroed.
  if (cur.mtimeMs === 0 && cur.size === 0 && cur.ino === 0) return false;
  return cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size;
}

/**
 * Calls `onChange` on every change of the sources until the returned function is called.
 * `onChange` may be called for both sources in one interval; the reload drops overlaps.
 */
export function watchConfigSources(sources: ConfigSources, onChange: () => void, intervalMs = WATCH_INTERVAL_MS): () => void {
  const stops: Array<() => void> = [];
  const { config, configDir } = sources;
  if (config !== null) {
    const listener = (cur: Stats, prev: Stats) => {
      if (fileChanged(cur, prev)) onChange();
    };
    watchFile(config, { interval: intervalMs }, listener);
    stops.push(() => unwatchFile(config, listener));
  }
  if (configDir !== null) {
    let prev = scanConfigDir(configDir);
    const timer = setInterval(() => {
      const cur = scanConfigDir(configDir);
      const changed = dirChanged(prev, cur);
      prev = cur;
      if (changed) onChange();
    }, intervalMs);
    // The server keeps the process alive; a watcher must not keep it from exiting.
    timer.unref();
    stops.push(() => clearInterval(timer));
  }
  return () => {
    for (const stop of stops) stop();
  };
}
