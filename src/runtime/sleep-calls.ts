/**
 * The `sleep` and `wake` actors of sleep mode (machines/process.sleep.ts): the configured
 * HTTP calls (`sleepEndpoints` / `wakeEndpoints`, llmsnap's keys), made in order against the
 * model's proxy URL. Any answer but 2xx, a connection error or a call's own timeout fails the
 * whole sequence, and the machine falls back to a stop (sleep) or a stop and a cold start
 * (wake).
 *
 * The actor's abort signal ends the call in flight: the state that runs it may be left at
 * any time (an unload while the model falls asleep, a shutdown).
 */
import { http } from '../node-http.ts';
import https from 'node:https';
import { fromPromise } from 'xstate';
import { joinUrl } from '../../machines/process.machine.ts';
import type { SleepCall } from '../../machines/process.protocol.ts';
import type { SleepCallsInput } from '../../machines/process.sleep.ts';

/** What a failed call says: method, endpoint and why (the log and `lastError` show it). */
function describe(call: SleepCall, why: string): Error {
  return new Error(`${call.method} ${call.endpoint} ${why}`);
}

/** One call; resolves on a 2xx answer (its body read and dropped). */
export function makeSleepCall(proxy: string, call: SleepCall, signal: AbortSignal): Promise<void> {
  const url = new URL(joinUrl(proxy, call.endpoint));
  const timeout = AbortSignal.timeout(call.timeoutMs);
  const body = call.body === '' ? null : Buffer.from(call.body);
  return new Promise<void>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: call.method,
        // A fresh connection per call: nothing is left open to a server that may be stopped next.
        agent: false,
        signal: AbortSignal.any([signal, timeout]),
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(describe(call, `answered ${status}`));
        });
        res.on('error', (e) => reject(describe(call, `failed: ${e.message}`)));
      },
    );
    request.on('error', (e) => {
      if (timeout.aborted) reject(describe(call, `timed out after ${call.timeoutMs / 1000}s`));
      else if (signal.aborted) reject(describe(call, 'aborted'));
      else reject(describe(call, `failed: ${e.message}`));
    });
    request.end(body ?? undefined);
  });
}

/** The actor for the machine's `sleep` or `wake`: every call in order. */
export const sleepCallsActor = fromPromise<void, SleepCallsInput>(async ({ input, signal }) => {
  for (const call of input.calls) await makeSleepCall(input.proxy, call, signal);
});
