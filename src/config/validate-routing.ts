/**
 * The router half of `routing` (reference 2.3, 2.4): which groups are in force, from either
 * the legacy top-level `groups`/`matrix` or `routing.router`, never both.
 *
 * The matrix router is picked by `routing.router.use: matrix` or by the legacy top-level
 * `matrix`; its block is then checked and compiled (matrix.ts). A `routing.router.settings.matrix`
 * next to `use: group` (or no `use`) is not in use and is not checked.
 * `routing.router.settings.groups` next to `use: matrix` is kept (and checked) but decides nothing.
 *
 * The implicit `(default)` group is NOT added here; the scheduler adds it
 * (src/core/group-swapper.ts `withDefaultGroup`), so the config shows what the user wrote.
 */
import type { ConfigDraft, GroupDraft } from './decode-config.ts';
import { ConfigError } from './config-error.ts';
import { compileMatrix, type MatrixDraft } from './matrix.ts';
import type { GroupConfig, MatrixRouting } from './types.ts';

export interface Routing {
  router: 'group' | 'matrix';
  groups: Record<string, GroupConfig>;
  /** Compiled when `router` is 'matrix', else null. */
  matrix: MatrixRouting | null;
}

export function validateRouting(draft: ConfigDraft, modelIds: ReadonlySet<string>): Routing {
  const routing = draft.root.get('routing');
  const router = routing.get('router');
  const hasLegacy = draft.legacyMatrix !== null || draft.legacyGroups.length > 0;
  const hasRouter = draft.routerUse !== '' || draft.routerMatrix !== null || draft.routerGroups.length > 0;
  if (hasLegacy && hasRouter) {
    throw new ConfigError(
      "config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; " +
        "please migrate the top-level keys into 'routing.router' and remove them",
      router.where,
    );
  }

  let groups: GroupDraft[];
  let matrix: MatrixDraft | null = draft.legacyMatrix;
  if (hasLegacy) {
    groups = draft.legacyGroups;
    if (matrix && groups.length > 0) {
      throw new ConfigError("config cannot use both 'groups' and 'matrix'", draft.root.get('matrix').where);
    }
  } else {
    groups = draft.routerGroups;
    switch (draft.routerUse) {
      case 'matrix':
        if (!draft.routerMatrix) {
          throw new ConfigError(
            "routing.router.use is 'matrix' but routing.router.settings.matrix is not set",
            router.get('use').where,
          );
        }
        matrix = draft.routerMatrix;
        break;
      case 'group':
      case '':
        break;
      default:
        throw new ConfigError(
          `routing.router.use: unknown router ${JSON.stringify(draft.routerUse)} (valid: group, matrix)`,
          router.get('use').where,
        );
    }
  }

  checkMembers(groups, modelIds);
  return {
    router: matrix ? 'matrix' : 'group',
    groups: Object.fromEntries(
      groups.map((g) => [g.name, { swap: g.swap, exclusive: g.exclusive, persistent: g.persistent, members: g.members }]),
    ),
    matrix: matrix ? compileMatrix(matrix, modelIds) : null,
  };
}

/**
 * Each model in at most one group, once. Members must be model ids: llama-swap finds an
 * unknown member only when it builds its server (still fatal at startup, and a reload is
 * rejected); we fail at load with its message.
 */
function checkMembers(groups: readonly GroupDraft[], modelIds: ReadonlySet<string>): void {
  const usedBy = new Map<string, string>();
  for (const group of groups) {
    const seen = new Set<string>();
    const items = group.field.get('members').items();
    group.members.forEach((member, index) => {
      const where = items[index]?.where;
      if (seen.has(member)) throw new ConfigError(`duplicate model member ${member} found in group: ${group.name}`, where);
      seen.add(member);
      const other = usedBy.get(member);
      if (other !== undefined) {
        throw new ConfigError(`model member ${member} is used in multiple groups: ${other} and ${group.name}`, where);
      }
      usedBy.set(member, group.name);
    });
  }
  for (const group of groups) {
    const items = group.field.get('members').items();
    group.members.forEach((member, index) => {
      if (!modelIds.has(member)) throw new ConfigError(`no model config for ${JSON.stringify(member)}`, items[index]?.where);
    });
  }
}
