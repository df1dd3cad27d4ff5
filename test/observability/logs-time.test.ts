/**
 * The proxy log's time prefix (`logTimeFormat`): the access lines and winston's lines both
 * carry the time they were written at, in the configured Go layout (go-time.ts), made once
 * per millisecond (time-text.ts). Date.now is replaced to step the clock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { goTimeFormatter } from '../../src/observability/go-time.ts';
import { Logs } from '../../src/observability/logger.ts';

const realNow = Date.now;
afterEach(() => {
  Date.now = realNow;
});

describe('Logs time prefix', () => {
  it('every line carries the time it was written at, whichever way it was written', () => {
    let now = Date.UTC(2026, 11, 3, 22, 0, 24, 123);
    Date.now = () => now;
    const logs = new Logs({ logLevel: 'info', logTimeFormat: 'stampmilli', logToStdout: 'none' }, { stdout: () => {} });
    const stamp = (ms: number) => goTimeFormatter('stampmilli')!(new Date(ms));
    logs.accessLine('INFO', 'first');
    logs.accessLine('INFO', 'second');
    const first = now;
    now += 1;
    logs.info('third');
    const third = now;
    now += 60_000;
    logs.accessLine('INFO', 'fourth');
    expect(logs.proxy.history()).toBe(`${stamp(first)} [INFO] first\n${stamp(first)} [INFO] second\n${stamp(third)} [INFO] third\n${stamp(now)} [INFO] fourth\n`);
    expect(stamp(first)).not.toBe(stamp(third));
    logs.close();
  });

  it("winston's lines too; a reload's new layout applies from the next line", async () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    Date.now = () => now;
    const logs = new Logs({ logLevel: 'info', logTimeFormat: 'rfc3339', logToStdout: 'none' }, { stdout: () => {} });
    logs.logger.info('from winston');
    logs.apply({ logLevel: 'info', logTimeFormat: 'kitchen' });
    logs.accessLine('INFO', 'after reload');
    logs.apply({ logLevel: 'info', logTimeFormat: '' });
    logs.accessLine('INFO', 'no time');
    const rfc = goTimeFormatter('rfc3339')!(new Date(now));
    const kitchen = goTimeFormatter('kitchen')!(new Date(now));
    // winston writes through a stream: poll for its line.
    const deadline = performance.now() + 5000;
    while (!logs.proxy.history().includes('from winston') && performance.now() < deadline) await new Promise((r) => setImmediate(r));
    const lines = logs.proxy.history().split('\n');
    expect(lines).toContain(`${rfc} [INFO] from winston`);
    expect(lines).toContain(`${kitchen} [INFO] after reload`);
    expect(lines).toContain('[INFO] no time');
    logs.close();
  });
});
