/**
 * The process protocol's conformance test (test/helpers/process-conformance.ts) on the plain
 * machine and on the tutorial's extension (docs/examples/sleep-mode.ts), which the scheduler
 * never hears of. The harness reads its fakes, events and delays off the machine it is given,
 * so a new extension is one more line here.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { processMachine } from '../../machines/process.machine.ts';
import { sleepyProcessMachine } from '../../docs/examples/sleep-mode.ts';
import { sleepModeProcessMachine } from '../../machines/process.sleep.ts';
import { conformanceConfig, processConformance } from '../helpers/process-conformance.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

processConformance('plain machine', processMachine, 8);
processConformance('with the tutorial\'s sleep mode (docs/examples/sleep-mode.ts)', sleepyProcessMachine, 10);

// swapstate's own sleep mode (vLLM, llmsnap's keys), with a model that enables it, and with
// one that does not (then it must behave as the plain machine).
const sleepCall = (endpoint: string) => ({ endpoint, method: 'POST', body: '', timeoutMs: 10_000 });
processConformance('with sleep mode (machines/process.sleep.ts), enabled', sleepModeProcessMachine, 10, {
  ...conformanceConfig,
  sleepMode: { sleep: [sleepCall('/sleep?level=1')], wake: [sleepCall('/wake_up')] },
});
