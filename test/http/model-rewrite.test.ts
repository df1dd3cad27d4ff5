/**
 * Model rewriting on raw Buffers: the new model goes in, every other byte stays. Multipart
 * results are read back with busboy, an independent parser.
 */
import busboy from 'busboy';
import { describe, expect, it } from 'vitest';
import { rewriteModel, rewriteQueryModel } from '../../src/http/model-rewrite.ts';
import { AUDIO, multipart } from './multipart-body.ts';

/** What busboy (a third-party parser) reads from a multipart body. */
function readForm(contentType: string, body: Buffer): Promise<{ fields: Array<[string, string]>; files: Array<[string, string, Buffer]> }> {
  return new Promise((resolve, reject) => {
    const fields: Array<[string, string]> = [];
    const files: Array<[string, string, Buffer]> = [];
    const bb = busboy({ headers: { 'content-type': contentType } });
    bb.on('field', (name, value) => fields.push([name, value]));
    bb.on('file', (name, stream, info) => {
      const data: Buffer[] = [];
      stream.on('data', (d: Buffer) => data.push(d));
      stream.on('end', () => files.push([name, info.filename ?? '', Buffer.concat(data)]));
    });
    bb.on('error', reject);
    bb.on('close', () => resolve({ fields, files }));
    bb.end(body);
  });
}

describe('rewriteModel', () => {
  const CT = 'application/json';

  it('JSON: replaces the top-level value in place, every other byte kept', () => {
    const body = Buffer.from('{ "seed": 18446744073709551615,\n  "model" :  "alias", "o":{"model":"keep"} }');
    expect(rewriteModel(body, CT, 'real/model:Q4').toString()).toBe(
      '{ "seed": 18446744073709551615,\n  "model" :  "real/model:Q4", "o":{"model":"keep"} }',
    );
  });

  it('JSON: replaces non-string and duplicate models; escapes the new name', () => {
    expect(rewriteModel(Buffer.from('{"model":12,"model":{"a":1}}'), CT, 'a"b\\c').toString()).toBe(
      '{"model":"a\\"b\\\\c","model":"a\\"b\\\\c"}',
    );
  });

  it('JSON: adds the model when absent', () => {
    expect(rewriteModel(Buffer.from('{"a":1 }'), CT, 'm').toString()).toBe('{"a":1,"model":"m" }');
    expect(rewriteModel(Buffer.from(' { } '), CT, 'm').toString()).toBe(' {"model":"m" } ');
  });

  it('JSON: invalid or non-object bodies come back unchanged', () => {
    for (const s of ['{"model":"x",', '[1]', '']) {
      const b = Buffer.from(s);
      expect(rewriteModel(b, CT, 'm')).toBe(b);
    }
  });

  it('multipart: replaces the field and keeps files byte-exact', async () => {
    const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
    const ct = `multipart/form-data; boundary=${boundary}`;
    const body = multipart(boundary, [
      { name: 'file', value: AUDIO, filename: 'a.wav', type: 'audio/wav' },
      { name: 'model', value: 'alias' },
      { name: 'language', value: 'en' },
      { name: 'model', value: 'alias2' },
    ]);
    const out = rewriteModel(body, ct, 'whisper-large');
    const form = await readForm(ct, out);
    expect(form.fields).toEqual([
      ['model', 'whisper-large'],
      ['language', 'en'],
      ['model', 'whisper-large'],
    ]);
    expect(form.files).toHaveLength(1);
    expect(form.files[0]![2].equals(AUDIO)).toBe(true);
    // Byte-exact apart from the two values.
    expect(out.length).toBe(body.length + 2 * 'whisper-large'.length - 'alias'.length - 'alias2'.length);
    expect(out.subarray(0, body.indexOf('alias')).equals(body.subarray(0, body.indexOf('alias')))).toBe(true);
  });

  it('multipart: adds the field when the model came from the query; quoted boundary', async () => {
    const boundary = 'a:b=c';
    const ct = `multipart/form-data; charset=utf-8; boundary="${boundary}"`;
    const body = multipart(boundary, [{ name: 'file', value: AUDIO, filename: 'a.wav' }]);
    const out = rewriteModel(body, ct, 'mé');
    const form = await readForm(ct, out);
    expect(form.fields).toEqual([['model', 'mé']]);
    expect(form.files[0]![2].equals(AUDIO)).toBe(true);
    expect(out.subarray(0, body.length - `--${boundary}--\r\n`.length).equals(body.subarray(0, body.length - `--${boundary}--\r\n`.length))).toBe(true);
  });

  it('multipart: a file named model is left alone; an unparseable body is unchanged', async () => {
    const ct = 'multipart/form-data; boundary=B';
    const body = multipart('B', [{ name: 'model', value: 'file-bytes', filename: 'model.bin' }]);
    const form = await readForm(ct, rewriteModel(body, ct, 'm'));
    expect(form.fields).toEqual([['model', 'm']]);
    expect(form.files.map((f) => f[2].toString())).toEqual(['file-bytes']);
    const broken = Buffer.from('--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nno end');
    expect(rewriteModel(broken, ct, 'm')).toBe(broken);
    expect(rewriteModel(body, 'multipart/form-data', 'm')).toBe(body);
  });

  it('urlencoded: replaces or appends, other pairs untouched', () => {
    const ct = 'application/x-www-form-urlencoded';
    expect(rewriteModel(Buffer.from('a=%41&model=x&b=1&mod%65l=y'), ct, 'new model/1').toString()).toBe(
      'a=%41&model=new+model%2F1&b=1&model=new+model%2F1',
    );
    expect(rewriteModel(Buffer.from('a=1'), ct, 'm').toString()).toBe('a=1&model=m');
    expect(rewriteModel(Buffer.from(''), ct, 'm').toString()).toBe('model=m');
  });

  it('other content types: unchanged', () => {
    const b = Buffer.from('model=x');
    expect(rewriteModel(b, 'text/plain', 'm')).toBe(b);
  });
});

describe('rewriteQueryModel (selectors: a GET names its model in the query)', () => {
  it.each([
    ['', ''],
    ['?', '?'],
    ['?x=1', '?x=1'],
    ['?model=sel', '?model=target%2Fb%20c'],
    ['?a=1&model=sel&b=%20', '?a=1&model=target%2Fb%20c&b=%20'],
    ['?model=sel&model=again', '?model=target%2Fb%20c&model=target%2Fb%20c'],
    ['?mo%64el=sel&stream=true', '?model=target%2Fb%20c&stream=true'],
  ])('%s -> %s', (query, want) => {
    expect(rewriteQueryModel(query, 'target/b c')).toBe(want);
  });
});
