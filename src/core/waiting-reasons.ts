/**
 * "Why is it waiting?" — the answer for every request the scheduler holds, in words and in
 * data, computed from the same decision tree that keeps it waiting (llama-swap #946: every
 * request hung while /health said OK, and nothing said why). Pure, like the rest of the core.
 */
import type { Swapper } from './effects.ts';
import { classify, type ActiveSwap, type FifoState } from './fifo.ts';

export type WaitReason =
  /**
   * A swap for its model is running: it gets the model when the swap is done. `waking`: the
   * model is being woken from sleep (sleep mode), not started.
   */
  | { kind: 'loading'; model: string; swapId: string; waking?: true }
  /** Queued: it would collide with a running swap (or unload). */
  | { kind: 'collides'; swapId: string; target: string | null; evicting: string[] }
  /** Queued: its swap would evict a model that is still serving requests. */
  | { kind: 'evicts-busy'; model: string; inFlight: number }
  /** Queued: a reload stops the model's process once idle, and the request waits for what follows. */
  | { kind: 'reloading'; model: string; retire: 'replace' | 'rules' }
  /** Queued, but nothing blocks it any more: it goes at the next drain. */
  | { kind: 'next'; };

export interface WaitingRequest {
  reqId: string;
  model: string;
  /** 1-based queue position; null for a request waiting on a running swap. */
  position: number | null;
  reason: WaitReason;
  /** The reason in words. */
  text: string;
}

function describeSwap(sw: ActiveSwap): string {
  return sw.target === null ? `the unload of ${sw.evict.join(', ')}` : `the swap to ${sw.target}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Every waiting request: swap waiters first (in swap order), then the queue in order.
 * `waking`: the models that are asleep or waking (sleep mode), whose swap wakes them.
 */
export function explainWaits(s: FifoState, swapper: Swapper, waking: ReadonlySet<string> = new Set()): WaitingRequest[] {
  const out: WaitingRequest[] = [];
  for (const sw of s.active) {
    if (sw.target === null) continue;
    for (const w of sw.waiters) {
      out.push({
        reqId: w.reqId,
        model: w.model,
        position: null,
        reason: { kind: 'loading', model: sw.target, swapId: sw.swapId, ...(waking.has(sw.target) ? { waking: true as const } : {}) },
        text: `model ${sw.target} is ${waking.has(sw.target) ? 'waking' : 'loading'}${sw.evict.length > 0 ? ` (evicting ${sw.evict.join(', ')})` : ''}`,
      });
    }
  }
  s.queue.forEach((r, i) => {
    const position = i + 1;
    const d = classify(s, r.model, swapper);
    let reason: WaitReason;
    let text: string;
    if (d.kind === 'collide') {
      const sw = s.active.find((a) => a.swapId === d.swapId);
      reason = { kind: 'collides', swapId: d.swapId, target: sw?.target ?? null, evicting: sw?.evict ?? [] };
      text = sw && sw.target === r.model ? `waits for the cancelled start of ${r.model} to end` : `collides with ${sw ? describeSwap(sw) : d.swapId}`;
    } else if (d.kind === 'busy') {
      reason = { kind: 'evicts-busy', model: d.model, inFlight: d.inFlight };
      text = `would evict model ${d.model}, which is serving ${plural(d.inFlight, 'request')}`;
    } else if (d.kind === 'retiring' && d.retire !== 'remove') {
      reason = { kind: 'reloading', model: r.model, retire: d.retire };
      text =
        d.retire === 'replace'
          ? `model ${r.model} changed in the reloaded config: waits for its process to be replaced once idle`
          : `model ${r.model} may not run beside the others under the reloaded config: waits for it to stop once idle`;
    } else {
      reason = { kind: 'next' };
      text = 'nothing blocks it: it goes at the next drain';
    }
    out.push({ reqId: r.reqId, model: r.model, position, reason, text: `${text}, position ${position}` });
  });
  return out;
}
