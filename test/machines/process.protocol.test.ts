/**
 * The process protocol's conformance test (test/helpers/process-conformance.ts) on the plain
 * machine and on the tutorial's extension (docs/examples/sleep-mode.ts), which the scheduler
 * never hears of. The harness reads its fakes, events and delays off the machine it is given,
 * so a new extension is one more line here.
 */
import { afterEach, beforeEach, vi } from 'vitest';
import { processMachine } from '../../machines/process.machine.ts';
import { sleepyProcessMachine } from '../../docs/examples/sleep-mode.ts';
import { processConformance } from '../helpers/process-conformance.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

processConformance('plain machine', processMachine, 8);
processConformance('with the tutorial\'s sleep mode (docs/examples/sleep-mode.ts)', sleepyProcessMachine, 10);
