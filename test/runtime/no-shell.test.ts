/**
 * Security: no shell ever interprets `cmd`. Shell syntax in a model command reaches the
 * program as plain words, so a config value can never run a second command.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startScheduler, type SchedulerRuntime } from '../../src/runtime/scheduler-runtime.ts';
import { until } from '../helpers/real-upstreams.ts';

let rt: SchedulerRuntime | null = null;
afterEach(async () => {
  await rt?.shutdown(1_000);
  rt = null;
});

describe('no shell', () => {
  it('; | && $() and backticks in cmd are arguments, not commands', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'swapstate-noshell-'));
    const marker = join(dir, 'pwned');
    const argvFile = join(dir, 'argv.json');
    const script = `require('fs').writeFileSync(process.argv[1], JSON.stringify(process.argv.slice(2))); setInterval(() => {}, 1000)`;
    const cmd = `${process.execPath} -e "${script}" ${argvFile} ; touch ${marker} | cat && touch ${marker} '$(touch ${marker})' \`touch ${marker}\` $HOME`;
    rt = startScheduler({
      input: {
        models: {
          m: {
            process: {
              model: 'm',
              cmd,
              env: {},
              proxy: 'http://127.0.0.1:9',
              checkEndpoint: 'none',
              healthCheckTimeoutMs: 15_000,
              healthCheckIntervalMs: 100,
              ttlMs: 0,
              unloadGraceMs: 1_000,
            },
          },
        },
        evictGraceMs: 1_000,
      },
    });
    const t = rt.request('m');
    expect((await t.grant).ok).toBe(true);
    t.done();
    await until(() => existsSync(argvFile) && readFileSync(argvFile, 'utf8').length > 0, 'the program to record its argv');
    expect(JSON.parse(readFileSync(argvFile, 'utf8'))).toEqual([
      ';', 'touch', marker, '|', 'cat', '&&', 'touch', marker, `$(touch ${marker})`, `\`touch`, `${marker}\``, '$HOME',
    ]);
    expect(existsSync(marker)).toBe(false);
  });
});
