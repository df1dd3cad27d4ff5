/**
 * The `swapstate` command's start-up failures (reference 1.1, section 2): every config the
 * loader rejects makes the process exit 1 with llama-swap's message and `<file>:<line>`,
 * before anything listens; plus the flag forms and the other exits of llama-swap's CLI.
 *
 * Each test spawns a real process (~0.7 s of CPU under tsx), so the tests of a block run
 * concurrently (vitest's maxConcurrency, 5 by default).
 */
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import {
  connectRefused,
  freePort,
  killRuns,
  modelIds,
  removeTempDirs,
  spawnCli,
  tempDir,
  until,
  waitHealthy,
  writeConfig,
  type CliRun,
} from './cli-harness.ts';
import { VALIDATION_CASES } from './validation-cases.ts';

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

const slug = (name: string): string => name.replace(/[^a-zA-Z0-9]+/g, '-').replace(/^-|-$/g, '');

/** stderr's text after `prefix`, to the end of that line ('' when `prefix` is absent). */
function after(stderr: string, prefix: string): string {
  const at = stderr.indexOf(prefix);
  return at < 0 ? '' : (stderr.slice(at + prefix.length).split('\n')[0] ?? '');
}

describe.concurrent('each validation error of section 2 is a test: its message, and exit code 1', () => {
  for (const c of VALIDATION_CASES) {
    it(c.name, async ({ expect, task }) => {
      const file = writeConfig(dir, `${slug(c.name)}.yaml`, c.yaml);
      const port = await freePort();
      const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`], { tag: task.id, ...(c.env ? { env: c.env } : {}) });
      const exit = await run.waitExit();
      const stderr = run.stderr();
      expect(exit, stderr).toEqual({ code: 1, signal: null });

      const prefix = `swapstate: failed to load config: ${file}${c.line === undefined ? '' : `:${c.line}`}: `;
      expect(stderr).toContain(prefix);
      const message = after(stderr, prefix);
      if (typeof c.message === 'string') expect(message).toBe(c.message);
      else expect(message).toMatch(c.message);

      expect(run.stdout()).not.toContain('listening');
      expect(await connectRefused(port)).toBe(true);
    });
  }

  it('an unreadable config file: exit 1, the path and the reason', async ({ expect, task }) => {
    const file = `${dir}/does-not-exist.yaml`;
    const port = await freePort();
    const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toContain(`swapstate: failed to load config: ${file}: cannot read config file: ENOENT`);
    expect(await connectRefused(port)).toBe(true);
  });
});

describe.concurrent('command line (reference 1.1)', () => {
  it('no -config: exit 1 "at least one of -config or -config-dir must be provided"', async ({ expect, task }) => {
    const run = spawnCli([], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toBe('swapstate: at least one of -config or -config-dir must be provided\n');
  });

  for (const flag of ['-version', '--version']) {
    it(`${flag}: exit 0 and a "version: " line`, async ({ expect, task }) => {
      const run = spawnCli([flag], { tag: task.id });
      expect(await run.waitExit()).toEqual({ code: 0, signal: null });
      expect(run.stdout()).toMatch(/^version: \d+\.\d+\.\d+\S* \(.+\), built at .+\n$/);
      expect(run.stderr()).toBe('');
    });
  }

  it('an undefined flag: exit 2 like Go\'s flag package, with the usage', async ({ expect, task }) => {
    const run = spawnCli(['--no-such-flag'], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toContain('flag provided but not defined: -no-such-flag');
    expect(run.stderr()).toContain('usage: swapstate');
  });

  const forms: Array<[string, (file: string, listen: string) => string[]]> = [
    ['one dash', (file, listen) => ['-config', file, '-listen', listen]],
    ['two dashes', (file, listen) => ['--config', file, '--listen', listen]],
    ['--flag=value', (file, listen) => [`--config=${file}`, `--listen=${listen}`]],
  ];
  for (const [form, argv] of forms) {
    it(`${form}: serves the given config on the given address, SIGTERM exits 0`, async ({ expect, task }) => {
      const id = `model-${slug(form)}`;
      const file = writeConfig(dir, `form-${slug(form)}.yaml`, `models:\n  ${id}:\n    proxy: http://127.0.0.1:1\n`);
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const run: CliRun = spawnCli(argv(file, `127.0.0.1:${port}`), { tag: task.id });
      await waitHealthy(run, url);
      expect(await modelIds(url)).toEqual([id]);
      // Logged once listening (so /health may answer first), and the logger writes in batches.
      const listening = new RegExp(`\\[INFO\\] swapstate \\S+ listening on http://127\\.0\\.0\\.1:${port}\\n`);
      await until(() => listening.test(run.stdout()), 'the listening line');
      run.child.kill('SIGTERM');
      expect(await run.waitExit()).toEqual({ code: 0, signal: null });
      expect(await connectRefused(port)).toBe(true);
    });
  }

  for (const [given, flag] of [
    ['-tls-cert-file', '--tls-cert-file'],
    ['-tls-key-file', '--tls-key-file'],
  ] as const) {
    it(`only ${given}: exit 1 "both -tls-cert-file and -tls-key-file must be provided for TLS"`, async ({ expect, task }) => {
      const file = writeConfig(dir, `tls-${slug(given)}.yaml`, 'models: {}\n');
      const port = await freePort();
      const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`, flag, `${dir}/whatever.pem`], { tag: task.id });
      expect(await run.waitExit()).toEqual({ code: 1, signal: null });
      expect(run.stderr()).toBe('swapstate: both -tls-cert-file and -tls-key-file must be provided for TLS\n');
      expect(await connectRefused(port)).toBe(true);
    });
  }

  it('the listen port already taken: exit 1', async ({ expect, task }) => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const file = writeConfig(dir, 'port-taken.yaml', 'models: {}\n');
      const run = spawnCli(['--config', file, '--listen', `127.0.0.1:${port}`], { tag: task.id });
      expect(await run.waitExit()).toEqual({ code: 1, signal: null });
      expect(run.stderr()).toContain(`swapstate: failed to listen on 127.0.0.1:${port}: `);
      expect(run.stderr()).toContain('EADDRINUSE');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
