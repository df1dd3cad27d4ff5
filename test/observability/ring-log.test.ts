import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogHub, RingLog } from '../../src/observability/ring-log.ts';

describe('RingLog', () => {
  it('keeps everything while under the bound', () => {
    const log = new RingLog(100);
    log.write('hello ');
    log.write(Buffer.from('world'));
    expect(log.history()).toBe('hello world');
    expect(log.byteLength).toBe(11);
  });

  it('keeps exactly the last limitBytes bytes, cutting mid-chunk', () => {
    const log = new RingLog(10);
    log.write('0123456');
    log.write('789ab');
    expect(log.history()).toBe('23456789ab');
    log.write('cd');
    expect(log.history()).toBe('456789abcd');
    expect(log.byteLength).toBe(10);
  });

  it('keeps the tail of a chunk larger than the bound', () => {
    const log = new RingLog(4);
    log.write('abc');
    log.write('0123456789');
    expect(log.history()).toBe('6789');
  });

  it('stays bounded under many writes', () => {
    const log = new RingLog(1024);
    for (let i = 0; i < 10_000; i++) log.write(`line ${i}\n`);
    expect(log.byteLength).toBe(1024);
    expect(log.history().endsWith('line 9999\n')).toBe(true);
  });

  it('does not start history with a broken UTF-8 character', () => {
    const log = new RingLog(4);
    log.write('aé€'); // 1 + 2 + 3 bytes: the last 4 start inside "é"
    expect(log.history()).toBe('€');
  });

  it('defaults to 100 KiB', () => {
    expect(new RingLog().limitBytes).toBe(100 * 1024);
  });

  it('sends live chunks to subscribers until they unsubscribe', () => {
    const log = new RingLog(100);
    log.write('before');
    const seen: string[] = [];
    const unsubscribe = log.subscribe((chunk) => seen.push(chunk.toString()));
    log.write('one');
    log.write(Buffer.from('two'));
    unsubscribe();
    unsubscribe(); // harmless twice
    log.write('three');
    expect(seen).toEqual(['one', 'two']);
  });

  it('a throwing subscriber breaks neither the writer nor other subscribers', () => {
    const log = new RingLog(100);
    const seen: string[] = [];
    log.subscribe(() => {
      throw new Error('broken stream');
    });
    log.subscribe((chunk) => seen.push(chunk.toString()));
    expect(() => log.write('x')).not.toThrow();
    expect(seen).toEqual(['x']);
    expect(log.history()).toBe('x');
  });

  it('the same function subscribed twice gets each chunk twice, and unsubscribes separately', () => {
    const log = new RingLog(100);
    const seen: string[] = [];
    const fn = (chunk: Buffer): void => {
      seen.push(chunk.toString());
    };
    const off1 = log.subscribe(fn);
    log.subscribe(fn);
    log.write('a');
    off1();
    log.write('b');
    expect(seen).toEqual(['a', 'a', 'b']);
  });

  it('ignores empty writes', () => {
    const log = new RingLog(100);
    const seen: Buffer[] = [];
    log.subscribe((c) => seen.push(c));
    log.write('');
    expect(seen).toEqual([]);
  });
});

describe('LogHub', () => {
  it('hands out one RingLog per model', () => {
    const hub = new LogHub();
    const a = hub.forModel('a');
    expect(hub.forModel('a')).toBe(a);
    expect(hub.forModel('b')).not.toBe(a);
    expect(hub.modelIds().sort()).toEqual(['a', 'b']);
  });

  it('copies every model chunk into the upstream aggregate, in order', () => {
    const hub = new LogHub();
    const live: string[] = [];
    hub.upstream.subscribe((c) => live.push(c.toString()));
    hub.forModel('a').write('a1 ');
    hub.forModel('b').write('b1 ');
    hub.forModel('a').write('a2');
    expect(hub.forModel('a').history()).toBe('a1 a2');
    expect(hub.forModel('b').history()).toBe('b1 ');
    expect(hub.upstream.history()).toBe('a1 b1 a2');
    expect(live).toEqual(['a1 ', 'b1 ', 'a2']);
  });

  it('bounds each model log and the aggregate', () => {
    const hub = new LogHub(8);
    hub.forModel('a').write('aaaaaa');
    hub.forModel('b').write('bbbbbb');
    expect(hub.forModel('a').history()).toBe('aaaaaa');
    expect(hub.upstream.history()).toBe('aabbbbbb');
  });

  it('knows which model wrote what: live chunks with their model, history cut into runs', () => {
    const hub = new LogHub();
    const live: Array<[string, string]> = [];
    const off = hub.subscribeUpstream((c, m) => live.push([m, c.toString()]));
    hub.forModel('a').write('a1\n');
    hub.forModel('a').write('a2\n');
    hub.forModel('b').write('b1\n');
    hub.forModel('a').write('a3 é\x1b\n'); // escaped as the model log escapes it
    off();
    hub.forModel('b').write('b2\n');
    expect(live).toEqual([['a', 'a1\n'], ['a', 'a2\n'], ['b', 'b1\n'], ['a', 'a3 é\\x1b\n']]);
    // The aggregate's bytes are unchanged: nothing is added to llama-swap's upstream log.
    expect(hub.upstream.history()).toBe('a1\na2\nb1\na3 é\\x1b\nb2\n');
    expect(hub.upstreamParts()).toEqual([
      { model: 'a', text: 'a1\na2\n' },
      { model: 'b', text: 'b1\n' },
      { model: 'a', text: 'a3 é\\x1b\n' },
      { model: 'b', text: 'b2\n' },
    ]);
  });

  it('the runs follow the bound, cutting the oldest mid-run and never mid-character', () => {
    const hub = new LogHub(8);
    hub.forModel('a').write('aaaaaa');
    hub.forModel('b').write('bbbb');
    expect(hub.upstreamParts()).toEqual([
      { model: 'a', text: 'aaaa' },
      { model: 'b', text: 'bbbb' },
    ]);
    hub.forModel('b').write('€€'); // 6 bytes: 'bb' and the two euros are left
    expect(hub.upstreamParts()).toEqual([{ model: 'b', text: 'bb€€' }]);
    hub.forModel('a').write('xyz'); // the cut falls inside the first euro: skipped
    expect(hub.upstreamParts()).toEqual([
      { model: 'b', text: '€' },
      { model: 'a', text: 'xyz' },
    ]);
    expect(hub.upstream.history()).toBe('€xyz');
  });

  it('joined, the runs are always the aggregate history (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.string({ unit: 'grapheme', maxLength: 12 })), { maxLength: 60 }),
        (limit, writes) => {
          const hub = new LogHub(limit);
          for (const [m, text] of writes) {
            hub.forModel(m).write(text);
            const parts = hub.upstreamParts();
            expect(parts.map((p) => p.text).join('')).toBe(hub.upstream.history());
            for (let i = 1; i < parts.length; i++) expect(parts[i]!.model).not.toBe(parts[i - 1]!.model);
            expect(parts.every((p) => p.text.length > 0 && ['a', 'b', 'c'].includes(p.model))).toBe(true);
          }
        },
      ),
    );
  });
});

describe('RingLog storage', () => {
  it('always holds exactly the last min(written, limit) bytes, whatever the chunk sizes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.string({ unit: 'binary-ascii', maxLength: 150 }), { maxLength: 40 }), (limit, chunks) => {
        const log = new RingLog(limit);
        let all = '';
        for (const c of chunks) {
          log.write(c);
          all += c;
          expect(log.history()).toBe(all.slice(Math.max(0, all.length - limit)));
          expect(log.byteLength).toBe(Math.min(all.length, limit));
        }
      }),
      { numRuns: 300 },
    );
  });
});
