/**
 * Where a request model is served (reference 2.6, 3.4): a local model or alias first, then a
 * peer model by FQN, then a bare id exactly one peer lists, no FQN equals and no local name
 * shadows. Cases marked "(Go)" are ported from llama-swap's TestConfig_ResolvePeerModel*.
 */
import { describe, expect, it } from 'vitest';
import { resolvePeerModel, resolveTarget } from '../../src/config/resolve-model.ts';
import { load, yaml } from './helpers.ts';

const cfg = load(yaml`
  models:
    shared: {proxy: "http://h:1", aliases: [local-alias]}
  peers:
    p1: {proxy: "http://p1", models: [shared, org/model, model, local-alias, twice]}
    p2: {proxy: "http://p2", models: [shared, unique, p1/model, twice]}
    a/b: {proxy: "http://p3", models: [c/d]}
`);

describe('resolveTarget', () => {
  it('a local model id, and an alias, resolve locally', () => {
    expect(resolveTarget(cfg, 'shared')).toEqual({ kind: 'local', model: 'shared' });
    expect(resolveTarget(cfg, 'local-alias')).toEqual({ kind: 'local', model: 'shared' });
  });

  it('FQNs resolve to their peer and bare id (Go)', () => {
    expect(resolveTarget(cfg, 'p1/shared')).toEqual({ kind: 'peer', peer: 'p1', model: 'shared', fqn: 'p1/shared' });
    expect(resolveTarget(cfg, 'p2/shared')).toEqual({ kind: 'peer', peer: 'p2', model: 'shared', fqn: 'p2/shared' });
  });

  it('an FQN with extra slashes: in the model id (Go), in the peer id, in both', () => {
    expect(resolveTarget(cfg, 'p1/org/model')).toEqual({ kind: 'peer', peer: 'p1', model: 'org/model', fqn: 'p1/org/model' });
    expect(resolveTarget(cfg, 'a/b/c/d')).toEqual({ kind: 'peer', peer: 'a/b', model: 'c/d', fqn: 'a/b/c/d' });
    expect(resolveTarget(cfg, 'p2/p1/model')).toEqual({ kind: 'peer', peer: 'p2', model: 'p1/model', fqn: 'p2/p1/model' });
  });

  it('a bare id one peer lists goes to that peer (Go: unique)', () => {
    expect(resolveTarget(cfg, 'unique')).toEqual({ kind: 'peer', peer: 'p2', model: 'unique', fqn: 'p2/unique' });
    expect(resolveTarget(cfg, 'org/model')).toEqual({ kind: 'peer', peer: 'p1', model: 'org/model', fqn: 'p1/org/model' });
  });

  it('a bare id two peers list is ambiguous: no target (404)', () => {
    expect(resolveTarget(cfg, 'twice')).toBeNull();
    expect(resolvePeerModel(cfg, 'twice')).toBeNull();
  });

  it('a bare id shadowed by a local model or alias stays local (Go: shared)', () => {
    expect(resolveTarget(cfg, 'shared')).toEqual({ kind: 'local', model: 'shared' });
    expect(resolvePeerModel(cfg, 'shared')).toBeNull();
    expect(resolvePeerModel(cfg, 'local-alias')).toBeNull();
  });

  it('an FQN takes precedence over a bare id of the same text (Go: FQNPrecedesBareName)', () => {
    // p2 lists the bare id "p1/model", which is also p1's FQN for "model".
    expect(resolveTarget(cfg, 'p1/model')).toEqual({ kind: 'peer', peer: 'p1', model: 'model', fqn: 'p1/model' });
  });

  it('unknown names resolve to nothing (Go: missing)', () => {
    expect(resolveTarget(cfg, 'missing')).toBeNull();
    expect(resolveTarget(cfg, 'p1/')).toBeNull();
    expect(resolveTarget(cfg, 'p3/x')).toBeNull();
  });
});
