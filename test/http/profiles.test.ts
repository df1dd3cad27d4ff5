/**
 * The profile pieces on their own (reference 3.4, 3.6, 3.8, 3.12): the active-profile holder,
 * the pipeline step on every way a request encodes its model, the `/upstream` pin (cases
 * ported from llama-swap's TestServer_ProfileMiddleware_RewriteUpstreamPath), and the
 * `PUT /api/profiles/active` body rules.
 */
import { describe, expect, it } from 'vitest';
import type { ProfileConfig } from '../../src/config/types.ts';
import { ActiveProfile, type ProfileSnapshot } from '../../src/http/active-profile.ts';
import { extractModel } from '../../src/http/model-extract.ts';
import { parseProfileRequest } from '../../src/http/profile-routes.ts';
import { rewriteQueryModel } from '../../src/http/model-rewrite.ts';
import { applyProfile, pinUpstreamPath, type ModelRequest } from '../../src/http/profile-step.ts';
import { multipart, AUDIO } from './multipart-body.ts';

const profile = (name: string, pins: Record<string, string>): ProfileConfig => ({ name, description: '', pins });
const coding: ProfileSnapshot = profile('coding', { coder: 'b', off: '', 'org/public': 'real' });

describe('ActiveProfile', () => {
  it('starts with none; activates known names; null and "" deactivate; unknown names change nothing', () => {
    const p = new ActiveProfile({ coding: profile('coding', { x: 'a' }), other: profile('other', { x: 'b' }) });
    const heard: Array<string | null> = [];
    p.subscribe((name) => heard.push(name));
    expect(p.name).toBeNull();
    expect(p.snapshot()).toBeNull();
    expect(p.set('coding')).toEqual({ ok: true, changed: true });
    expect(p.snapshot()?.pins).toEqual({ x: 'a' });
    expect(p.set('coding')).toEqual({ ok: true, changed: false });
    expect(p.set('missing')).toEqual({ ok: false });
    expect(p.name).toBe('coding');
    expect(p.set('other')).toEqual({ ok: true, changed: true });
    expect(p.set('')).toEqual({ ok: true, changed: true });
    expect(p.set(null)).toEqual({ ok: true, changed: false });
    expect(heard).toEqual(['coding', 'other', null]);
  });

  it('a snapshot taken before a switch keeps its pins', () => {
    const p = new ActiveProfile({ a: profile('a', { x: '1' }), b: profile('b', { x: '2' }) });
    p.set('a');
    const snap = p.snapshot();
    p.set('b');
    expect(snap?.pins.x).toBe('1');
  });

  it('"__proto__" and other inherited names are no profile', () => {
    expect(new ActiveProfile({}).set('__proto__')).toEqual({ ok: false });
    expect(new ActiveProfile({}).set('toString')).toEqual({ ok: false });
  });
});

describe('applyProfile: the pin rewrite wherever the model is encoded', () => {
  const json = { method: 'POST', headers: { 'content-type': 'application/json' } };
  const req = (model: string, body: string | Buffer, query = ''): ModelRequest => ({ model, body: Buffer.from(body), query });

  it('passes every request through when no profile is active, or the model is no pin', () => {
    const r = req('coder', '{"model":"coder"}');
    expect(applyProfile(null, json, r)).toEqual({ ok: true, request: r });
    const other = req('a', '{"model":"a"}');
    expect(applyProfile(coding, json, other)).toEqual({ ok: true, request: other });
  });

  it('JSON: the body names the target, every other byte unchanged', async () => {
    const out = applyProfile(coding, json, req('coder', '{"messages":[],"model": "coder" ,"n":12345678901234567890}'));
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.request.model).toBe('b');
    expect(out.request.body.toString()).toBe('{"messages":[],"model": "b" ,"n":12345678901234567890}');
    expect((await extractModel({ ...json, url: '/' }, out.request.body)).model).toBe('b');
  });

  it('multipart: the model field is replaced, the file bytes stay as they were', async () => {
    const headers = { 'content-type': 'multipart/form-data; boundary=XyZ' };
    const body = multipart('XyZ', [
      { name: 'model', value: 'coder' },
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
    ]);
    const out = applyProfile(coding, { method: 'POST', headers }, req('coder', body));
    if (!out.ok) throw new Error('refused');
    expect(out.request.body).toEqual(
      multipart('XyZ', [
        { name: 'model', value: 'b' },
        { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      ]),
    );
    expect((await extractModel({ method: 'POST', headers, url: '/' }, out.request.body)).model).toBe('b');
  });

  it('multipart with the model in the query (which Go reads first): the query names the target', async () => {
    const headers = { 'content-type': 'multipart/form-data; boundary=XyZ' };
    const body = multipart('XyZ', [{ name: 'file', value: 'x', filename: 'a.wav' }]);
    const out = applyProfile(coding, { method: 'POST', headers }, req('coder', body, '?model=coder&lang=en'));
    if (!out.ok) throw new Error('refused');
    expect(out.request.query).toBe('?model=b&lang=en');
    expect((await extractModel({ method: 'POST', headers, url: `/x${out.request.query}` }, out.request.body)).model).toBe('b');
  });

  it('urlencoded: the form pair is replaced', () => {
    const out = applyProfile(coding, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, req('coder', 'a=1&model=coder&b=2'));
    if (!out.ok) throw new Error('refused');
    expect(out.request.body.toString()).toBe('a=1&model=b&b=2');
  });

  it('GET: the query names the target, other parameters as sent; the body is untouched', () => {
    const out = applyProfile(coding, { method: 'GET', headers: {} }, req('coder', '', '?x=%20y&model=coder&model=again'));
    if (!out.ok) throw new Error('refused');
    expect(out.request).toEqual({ model: 'b', body: Buffer.alloc(0), query: '?x=%20y&model=b&model=b' });
  });

  it('a pin with an empty target: 404, no model identified, saying which pin and profile', () => {
    const out = applyProfile(coding, json, req('off', '{"model":"off"}'));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.status).toBe(404);
    expect(out.error.message).toBe('no model id could be identified: "off" is disabled while profile "coding" is active');
  });

  it('rewriteQueryModel escapes the target and leaves a query without model alone', () => {
    expect(rewriteQueryModel('?model=x', 'org/m 1')).toBe('?model=org%2Fm%201');
    expect(rewriteQueryModel('?a=1', 'b')).toBe('?a=1');
    expect(rewriteQueryModel('', 'b')).toBe('');
    expect(rewriteQueryModel('?mod%65l=x', 'b')).toBe('?model=b');
  });
});

describe('pinUpstreamPath (llama-swap TestServer_ProfileMiddleware_RewriteUpstreamPath)', () => {
  const snap = (pins: Record<string, string>): ProfileSnapshot => ({ name: 'p', pins });

  it.each([
    ['pin', '/upstream/public/v1/chat/completions', { public: 'real' }, '/upstream/real/v1/chat/completions'],
    ['longest pin', '/upstream/author/public/v1/chat/completions', { author: 'short', 'author/public': 'real' }, '/upstream/real/v1/chat/completions'],
    ['whole path', '/upstream/public', { public: 'real' }, '/upstream/real'],
    ['escaped pin name', '/upstream/author%2Fpublic/x', { 'author/public': 'real' }, '/upstream/real/x'],
    ['target with a slash', '/upstream/public/x?', { public: 'org/model' }, '/upstream/org/model/x?'],
  ])('%s', (_name, path, pins, want) => {
    expect(pinUpstreamPath(snap(pins), path)).toEqual({ kind: 'pinned', path: want });
  });

  it('not pinned: a prefix that is not a whole segment, or no pin at all', () => {
    expect(pinUpstreamPath(snap({ public: 'real' }), '/upstream/real/v1/chat/completions')).toEqual({ kind: 'none' });
    expect(pinUpstreamPath(snap({ pub: 'real' }), '/upstream/public/x')).toEqual({ kind: 'none' });
    expect(pinUpstreamPath(null, '/upstream/public/x')).toEqual({ kind: 'none' });
  });

  it('disabled: an empty target', () => {
    expect(pinUpstreamPath(snap({ disabled: '' }), '/upstream/disabled/v1/chat/completions')).toEqual({ kind: 'disabled', pin: 'disabled', profile: 'p' });
  });

  it('only tries prefixes as long as a pin can be: a path of many segments costs nothing more', () => {
    const long = `/upstream/${'a/'.repeat(100_000)}x`;
    const t0 = performance.now();
    expect(pinUpstreamPath(snap({ zz: 'real' }), long)).toEqual({ kind: 'none' });
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

describe('PUT /api/profiles/active body (llama-swap handleAPIActiveProfile)', () => {
  const parse = (text: string) => {
    const out = parseProfileRequest(Buffer.from(text));
    return out.ok ? out : { ok: false, status: out.error.status, message: out.error.message };
  };

  it('a name, null or "" (both: none)', () => {
    expect(parse('{"name":"coding"}')).toEqual({ ok: true, name: 'coding' });
    expect(parse('{"name":null}')).toEqual({ ok: true, name: null });
    expect(parse('{"name":""}')).toEqual({ ok: true, name: null });
  });

  it('not a JSON object: invalid profile request', () => {
    for (const text of ['', 'nope', '[]', '"coding"', '12']) {
      expect(parse(text)).toEqual({ ok: false, status: 400, message: 'invalid profile request' });
    }
  });

  it('no name: profile name is required (JSON null decodes as an empty object in Go)', () => {
    expect(parse('{}')).toEqual({ ok: false, status: 400, message: 'profile name is required' });
    expect(parse('null')).toEqual({ ok: false, status: 400, message: 'profile name is required' });
  });

  it('a name of another type: must be a string or null', () => {
    for (const text of ['{"name":5}', '{"name":true}', '{"name":["a"]}', '{"name":{}}']) {
      expect(parse(text)).toEqual({ ok: false, status: 400, message: 'profile name must be a string or null' });
    }
  });
});
