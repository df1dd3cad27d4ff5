/** Request-body filters on raw Buffers, with a minimal ModelConfig. */
import { describe, expect, it } from 'vitest';
import type { ModelConfig, ModelFilters } from '../../src/config/types.ts';
import { applyFilters, splitPath } from '../../src/http/filters.ts';

function model(filters: Partial<ModelFilters> = {}, useModelName = ''): ModelConfig {
  return {
    id: 'llama',
    cmd: 'llama-server --port ${PORT}',
    cmdStop: '',
    proxy: 'http://localhost:5800',
    checkEndpoint: '/health',
    ttl: 0,
    unloadTimeout: 10,
    aliases: [],
    env: [],
    useModelName,
    unlisted: false,
    name: '',
    description: '',
    metadata: {},
    concurrencyLimit: 10,
    sendLoadingState: false,
    timeouts: { connect: 30, keepalive: 30, responseHeader: 0, tlsHandshake: 10, expectContinue: 1, idleConn: 90 },
    compat: { ignoreWebsockets: false },
    filters: { stripParams: [], setParams: {}, setParamsByID: {}, ...filters },
    capabilities: null,
    sleepMode: 'disable',
    sleepEndpoints: [],
    wakeEndpoints: [],
  };
}

const apply = (body: unknown, m: ModelConfig, id = 'llama'): unknown => {
  const out = applyFilters(Buffer.from(JSON.stringify(body)), m, id);
  return out === null ? null : JSON.parse(out.toString('utf8'));
};

describe('applyFilters', () => {
  it('no rules: null, without even looking at the body', () => {
    expect(applyFilters(Buffer.from('not json'), model(), 'llama')).toBeNull();
    expect(applyFilters(Buffer.from('{"model":"llama"}'), model(), 'llama')).toBeNull();
  });

  it('useModelName rewrites the model; only that, byte-exact elsewhere', () => {
    const body = Buffer.from('{"model": "llama",  "seed": 18446744073709551615}');
    const out = applyFilters(body, model({}, 'org/llama-3:Q4'), 'llama');
    expect(out?.toString()).toBe('{"model": "org/llama-3:Q4",  "seed": 18446744073709551615}');
    // Already the right name: nothing to do.
    expect(applyFilters(Buffer.from('{"model":"org/llama-3:Q4"}'), model({}, 'org/llama-3:Q4'), 'llama')).toBeNull();
  });

  it('stripParams removes top-level and nested paths, never model', () => {
    const m = model({ stripParams: ['temperature', 'a.b', 'model', 'missing', 'arr.1'] });
    expect(apply({ model: 'llama', temperature: 1, top_p: 0.9, a: { b: 1, c: 2 }, arr: [0, 1, 2] }, m)).toEqual({
      model: 'llama',
      top_p: 0.9,
      a: { c: 2 },
      arr: [0, 2],
    });
  });

  it('stripParams that match nothing return null', () => {
    const m = model({ stripParams: ['temperature', 'a.b'] });
    expect(apply({ model: 'llama', a: 5 }, m)).toBeNull();
  });

  it('setParams sets any JSON type, creates objects along a path, ignores model', () => {
    const m = model({
      setParams: { temperature: 0.7, 'chat_template_kwargs.enable_thinking': false, stop: ['</s>'], model: 'evil', 'model.x': 1 },
    });
    expect(apply({ model: 'llama', temperature: 1.5 }, m)).toEqual({
      model: 'llama',
      temperature: 0.7,
      chat_template_kwargs: { enable_thinking: false },
      stop: ['</s>'],
    });
  });

  it('setParams keys are applied sorted, so a parent is set before its child', () => {
    // Inserted child-first; sorted order applies "a" and then "a.b".
    const m = model({ setParams: { 'a.b': 2, a: { x: 1 } } });
    expect(apply({ model: 'llama' }, m)).toEqual({ model: 'llama', a: { x: 1, b: 2 } });
    // The config value itself is never mutated through the body.
    expect(m.filters.setParams.a).toEqual({ x: 1 });
    expect(apply({ model: 'llama' }, m)).toEqual({ model: 'llama', a: { x: 1, b: 2 } });
  });

  it('setParams that set what is already there return null', () => {
    const m = model({ setParams: { temperature: 0.7, o: { a: [1, { b: 2 }] } } });
    expect(apply({ model: 'llama', temperature: 0.7, o: { a: [1, { b: 2 }] } }, m)).toBeNull();
  });

  it('setParams replace non-objects on the way and index existing arrays', () => {
    const m = model({ setParams: { 'a.b': 1, 'arr.1.x': 2, 'arr.-1': 'end', 'list.3': 'padded' } });
    expect(apply({ model: 'llama', a: 'str', arr: [{}, { y: 1 }], list: [0] }, m)).toEqual({
      model: 'llama',
      a: { b: 1 },
      arr: [{}, { y: 1, x: 2 }, 'end'],
      list: [0, null, null, 'padded'],
    });
  });

  it('setParamsByID applies for the requested id only, after (and over) setParams', () => {
    const m = model({
      setParams: { temperature: 0.7, top_k: 20 },
      setParamsByID: { 'llama-think': { temperature: 1.0, 'kw.think': true }, llama: { top_k: 40 } },
    });
    expect(apply({ model: 'llama-think' }, m, 'llama-think')).toEqual({
      model: 'llama-think',
      temperature: 1.0,
      top_k: 20,
      kw: { think: true },
    });
    expect(apply({ model: 'llama' }, m, 'llama')).toEqual({ model: 'llama', temperature: 0.7, top_k: 40 });
    expect(apply({ model: 'other' }, m, 'other')).toEqual({ model: 'other', temperature: 0.7, top_k: 20 });
  });

  it('order: useModelName, strip, set, setByID', () => {
    const m = model(
      { stripParams: ['temperature'], setParams: { temperature: 0.1 }, setParamsByID: { alias: { temperature: 0.2 } } },
      'real',
    );
    expect(apply({ model: 'alias', temperature: 9 }, m, 'alias')).toEqual({ model: 'real', temperature: 0.2 });
  });

  it('escaped dots address literal keys; __proto__ is an ordinary key', () => {
    expect(splitPath('a\\.b.c')).toEqual(['a.b', 'c']);
    const m = model({ setParams: { 'x\\.y': 1, '__proto__.polluted': true } });
    const out = apply({ model: 'llama' }, m) as Record<string, unknown>;
    expect(out['x.y']).toBe(1);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('non-JSON or non-object bodies are left alone', () => {
    const m = model({ setParams: { a: 1 } });
    expect(applyFilters(Buffer.from('{"model":'), m, 'llama')).toBeNull();
    expect(applyFilters(Buffer.from('[1,2]'), m, 'llama')).toBeNull();
  });
});
