/**
 * `--config-dir` end to end (reference 1.1, 1.4-1.6): the real command serves models from
 * the directory's files, alone or after `--config`; SIGHUP and `--watch-config` re-read the
 * directory (a new file's model is served); a broken new file leaves the old config serving.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, it, type ExpectStatic } from 'vitest';
import { freePortBlock } from '../helpers/real-upstreams.ts';
import {
  chat,
  demoModel,
  freePort,
  getText,
  killRuns,
  modelIds,
  removeTempDirs,
  spawnCli,
  tempDir,
  until,
  upstreamsOf,
  waitHealthy,
  writeConfig,
  type CliRun,
} from './cli-harness.ts';

afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

interface Started {
  run: CliRun;
  url: string;
  dir: string;
  main: string | null;
}

/**
 * Starts swapstate on `dir` holding `files` (name → YAML), after a `--config` file holding
 * `main` when given. The main file (or the first dir file) sets the shared settings.
 */
async function start(tag: string, files: Record<string, string>, opts: { main?: string; flags?: string[] } = {}): Promise<Started> {
  const settings = `healthCheckTimeout: 15\nstartPort: ${await freePortBlock(4)}\n`;
  const dir = tempDir();
  const names = Object.keys(files);
  for (const name of names) writeConfig(dir, name, `${opts.main === undefined && name === names[0] ? settings : ''}${files[name]}`);
  const main = opts.main === undefined ? null : writeConfig(tempDir(), 'main.yaml', `${settings}${opts.main}`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [...(main ? ['--config', main] : []), '--config-dir', dir, '--listen', `127.0.0.1:${port}`, ...(opts.flags ?? [])];
  const run = spawnCli(args, { tag });
  await waitHealthy(run, url);
  return { run, url, dir, main };
}

async function served(expect: ExpectStatic, s: Started, id: string): Promise<void> {
  const res = await chat(s.url, id);
  expect(res.status, res.body).toBe(200);
  expect(res.body).toContain(`Hello from ${id}.`);
}

async function stop(expect: ExpectStatic, run: CliRun): Promise<void> {
  run.child.kill('SIGTERM');
  expect(await run.waitExit(20_000)).toEqual({ code: 0, signal: null });
  expect(upstreamsOf(run)).toEqual([]);
}

describe.concurrent('--config-dir', () => {
  it('alone: every file of the directory contributes models, and a request routes to one of them', async ({ expect, task }) => {
    const s = await start(task.id, { 'a.yaml': `models:\n${demoModel('d1')}`, 'b.yml': `models:\n${demoModel('d2')}`, 'notes.txt': 'not: [yaml' });
    expect(await modelIds(s.url)).toEqual(['d1', 'd2']);
    await served(expect, s, 'd2');
    await stop(expect, s.run);
  });

  it('with --config: the main file first, the directory after; both serve', async ({ expect, task }) => {
    const s = await start(task.id, { 'extra.yaml': `models:\n${demoModel('d1')}` }, { main: `models:\n${demoModel('m1')}` });
    expect(await modelIds(s.url)).toEqual(['d1', 'm1']); // /v1/models lists by id
    await served(expect, s, 'd1');
    await served(expect, s, 'm1');
    await stop(expect, s.run);
  });

  it('SIGHUP after a file is added: its model is served; the log names every source', async ({ expect, task }) => {
    const s = await start(task.id, { 'a.yaml': `models:\n${demoModel('d1')}` }, { main: `models:\n${demoModel('m1')}` });
    await served(expect, s, 'd1');

    writeFileSync(join(s.dir, 'b.yaml'), `models:\n${demoModel('d2')}`);
    s.run.child.kill('SIGHUP');

    await until(async () => (await modelIds(s.url)).includes('d2'), 'd2 in /v1/models', 10_000);
    await served(expect, s, 'd2');
    expect(await getText(`${s.url}/logs`)).toContain(`[INFO] config reloaded from ${s.main} + ${s.dir} (a.yaml, b.yaml)\n`);
    await stop(expect, s.run);
  });

  it('SIGHUP after a broken file is added: "failed to reload config" at that file, the old config keeps serving', async ({ expect, task }) => {
    const s = await start(task.id, { 'a.yaml': `models:\n${demoModel('d1')}` });
    await served(expect, s, 'd1');

    writeFileSync(join(s.dir, 'b.yaml'), `# d1 again\nmodels:\n${demoModel('d1')}`);
    s.run.child.kill('SIGHUP');

    const expected = `[WARN] failed to reload config: ${s.dir}/b.yaml:3: duplicate models "d1" found in ${s.dir}/b.yaml (already defined in ${s.dir}/a.yaml:4)\n`;
    await until(async () => (await getText(`${s.url}/logs`)).includes(expected), 'the reload failure in /logs', 10_000);
    expect(await getText(`${s.url}/logs`)).not.toContain('config reloaded');
    expect(await modelIds(s.url)).toEqual(['d1']);
    await served(expect, s, 'd1');
    await stop(expect, s.run);
  });

  it('--watch-config picks up a file added to the directory (polling, 2 s)', async ({ expect, task }) => {
    const s = await start(task.id, { 'a.yaml': `models:\n${demoModel('w1')}` }, { flags: ['--watch-config'] });
    await served(expect, s, 'w1');

    writeFileSync(join(s.dir, 'b.yaml'), `models:\n${demoModel('w2')}`);
    await until(async () => (await modelIds(s.url)).includes('w2'), 'w2 in /v1/models', 10_000);
    await served(expect, s, 'w2');
    expect(await getText(`${s.url}/logs`)).toContain(`config reloaded from ${s.dir} (a.yaml, b.yaml)`);
    await stop(expect, s.run);
  });

  it('a model defined in two files: exit 1 at start, the error at the second file and line', async ({ expect, task }) => {
    const dir = tempDir();
    writeConfig(dir, 'a.yaml', `models:\n${demoModel('d1')}`);
    writeConfig(dir, 'b.yaml', `models:\n${demoModel('d1')}`);
    const run = spawnCli(['--config-dir', dir, '--listen', `127.0.0.1:${await freePort()}`], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toBe(
      `swapstate: failed to load config: ${dir}/b.yaml:2: duplicate models "d1" found in ${dir}/b.yaml (already defined in ${dir}/a.yaml:2)\n`,
    );
  });

  it('a --config file inside --config-dir: exit 1', async ({ expect, task }) => {
    const dir = tempDir();
    const main = writeConfig(dir, 'main.yaml', `models:\n${demoModel('d1')}`);
    const run = spawnCli(['--config', main, '--config-dir', dir], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toBe(`swapstate: failed to load config: -config path ${main} is also present in -config-dir ${dir}; remove it from one\n`);
  });

  it('--check-config with --config-dir: the report names every source', async ({ expect, task }) => {
    const dir = tempDir();
    writeConfig(dir, 'a.yaml', `models:\n${demoModel('d1')}`);
    writeConfig(dir, 'b.yaml', `models:\n${demoModel('d2', { extra: ['bogus: 1'] })}`);
    const main = writeConfig(tempDir(), 'main.yaml', 'healthCheckTimeout: 30\n');
    const run = spawnCli(['--check-config', '--config', main, '--config-dir', dir], { tag: task.id });
    expect(await run.waitExit(), run.stderr()).toEqual({ code: 0, signal: null });
    const out = run.stdout();
    expect(out).toContain(`config:       ${main} + ${dir} (a.yaml, b.yaml)\n`);
    expect(out).toContain('models (2):\n  d1\n');
    expect(out).toContain(`warnings (1):\n  ${dir}/b.yaml:5: `);
    expect(out).toContain(`swapstate: ${main} + ${dir} (a.yaml, b.yaml): config is valid\n`);
  });
});
