import { describe, expect, it } from 'vitest';
import { BatchedWriter } from '../../src/observability/batched-writer.ts';

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('BatchedWriter', () => {
  it("writes one turn's chunks as one write, in order, by the next turn", async () => {
    const out: string[] = [];
    const w = new BatchedWriter((c) => out.push(c.toString()));
    w.write(Buffer.from('a\n'));
    w.write(Buffer.from('b\n'));
    expect(out).toEqual([]);
    await nextTurn();
    expect(out).toEqual(['a\nb\n']);
    w.write(Buffer.from('c\n'));
    await nextTurn();
    expect(out).toEqual(['a\nb\n', 'c\n']);
  });

  it('flush() writes at once (before exit), and a big batch does not wait for the turn', () => {
    const out: Buffer[] = [];
    const w = new BatchedWriter((c) => out.push(c));
    w.write(Buffer.from('x'));
    w.flush();
    expect(out.map(String)).toEqual(['x']);
    w.flush();
    expect(out).toHaveLength(1);
    w.write(Buffer.alloc(64 * 1024, 'y'));
    expect(out).toHaveLength(2);
    expect(out[1]!.length).toBe(64 * 1024);
  });
});
