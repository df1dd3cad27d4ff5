/**
 * `swapstate --check-config` (issue 11), like `nginx -t`: the real command, real exit codes.
 * A valid config prints what would run and exits 0; an invalid one exits 1 with the error at
 * its file:line; either way nothing listens and nothing is started (not even a preload).
 */
import { createServer, type Server } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, it } from 'vitest';
import { demoModel, freePort, killRuns, markedProcesses, removeTempDirs, spawnCli, tempDir, UPSTREAM, writeConfig } from './cli-harness.ts';

let dir: string;
beforeAll(() => {
  dir = tempDir();
});
afterEach((ctx) => killRuns(ctx.task.id));
afterAll(() => {
  killRuns();
  removeTempDirs();
});

/** A TCP server holding a port, so a run that tried to listen there would fail. */
async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  return {
    port: (blocker.address() as { port: number }).port,
    close: () => new Promise((resolve) => blocker.close(() => resolve())),
  };
}

describe.concurrent('--check-config', () => {
  it('a matrix config: each model shows its sets, then every combination in the solver order and the evict costs', async ({ expect, task }) => {
    const file = writeConfig(
      dir,
      'matrix.yaml',
      `models:\n${demoModel('g')}${demoModel('q')}${demoModel('v')}${demoModel('solo')}matrix:\n  evict_costs:\n    v: 5\n  sets:\n    gv: "g & v"\n    qv: "q & v"\n`,
    );
    const run = spawnCli(['--check-config', '--config', file], { tag: task.id });
    expect(await run.waitExit(), run.stderr()).toEqual({ code: 0, signal: null });
    const out = run.stdout();
    expect(out).toContain('sets:        gv, qv');
    expect(out).toContain('sets:        none (runs alone)');
    expect(out).not.toContain('group:       ');
    expect(out).toContain('matrix (2 combinations, in the solver\'s order):\n  gv (g & v): g, v\n  qv (q & v): q, v\n  evict costs: v 5; others 1');
    expect(out).not.toContain('groups (');
  });

  it('a valid config: prints each model, its command words, proxy and port, ttl, group; the groups; the warnings; exit 0', async ({
    expect,
    task,
  }) => {
    const startPort = await freePort();
    const file = writeConfig(
      dir,
      'valid.yaml',
      `startPort: ${startPort}
hooks:
  on_startup:
    preload: [chat]
models:
${demoModel('chat', { args: '--load-delay 0', extra: ['aliases: [c, talk]', 'ttl: 60', 'env: [HF_TOKEN=hunter2, MODE=fast]', 'tll: 5'] })}
  fixed:
    cmd: "'/opt/my server/bin' --port 9999 --name 'a b'"
    proxy: http://127.0.0.1:9999
    checkEndpoint: none
groups:
  g:
    swap: true
    exclusive: false
    members: [chat]
`,
    );
    const held = await holdPort();
    try {
      // --listen names a port that is taken: a run that listened would fail with EADDRINUSE.
      const run = spawnCli(['--check-config', '--config', file, '--listen', `127.0.0.1:${held.port}`], { tag: task.id });
      expect(await run.waitExit(), run.stderr()).toEqual({ code: 0, signal: null });
      const out = run.stdout();
      expect(out).toContain(`config:       ${file}\nlisten:       http://127.0.0.1:${held.port}\n`);
      expect(out).toContain(
        [
          '  chat',
          '    aliases:     c, talk',
          `    cmd:         [${JSON.stringify(process.execPath)}, ${JSON.stringify(UPSTREAM)}, "--port", "${startPort}", "--id", "chat", "--load-delay", "0"]`,
          '    env:         HF_TOKEN=[REDACTED] MODE=fast',
          `    proxy:       http://127.0.0.1:${startPort} (port ${startPort})`,
          '    health:      GET /health',
          '    ttl:         60s (unloaded after 60 s without requests)',
          '    group:       g',
          '  fixed',
          '    cmd:         ["/opt/my server/bin", "--port", "9999", "--name", "a b"]',
          '    proxy:       http://127.0.0.1:9999 (port 9999)',
          '    health:      none (ready once started)',
          '    ttl:         none (stays loaded until swapped out or unloaded)',
          '    group:       (default)',
        ].join('\n'),
      );
      expect(out).toContain(
        'groups (2):\n  g: swap true, exclusive false, persistent false; members: chat\n' +
          '  (default): swap true, exclusive true, persistent false; members: fixed\n',
      );
      expect(out).toContain(`warnings (1):\n  ${file}:12: unknown key "models.chat.tll" ignored (did you mean "ttl"?)\n`);
      expect(out).toMatch(new RegExp(`swapstate: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: config is valid\\n$`));
      expect(out).not.toContain('hunter2');
      expect(run.stderr()).toBe('');
      // Nothing was started, not even the preload: no process of the run is left.
      expect(markedProcesses(run.marker)).toEqual([]);
    } finally {
      await held.close();
    }
  });

  it('a model with its own timeouts or ignored websockets shows them; a plain model does not', async ({ expect, task }) => {
    const file = writeConfig(
      dir,
      'model-transport.yaml',
      `models:\n${demoModel('plain')}${demoModel('tuned', { extra: ['timeouts: {responseHeader: 600, connect: 5}', 'compat: {ignoreWebsockets: true}'] })}`,
    );
    const run = spawnCli(['--check-config', '--config', file], { tag: task.id });
    expect(await run.waitExit(), run.stderr()).toEqual({ code: 0, signal: null });
    const out = run.stdout();
    expect(out).toContain('    timeouts:    connect 5s, keepalive 30s, responseHeader 600s, tlsHandshake 10s, expectContinue 1s, idleConn 90s\n');
    expect(out).toContain('    websockets:  ignored (never start the model, take no slot)\n');
    expect(out.match(/timeouts:/g)).toHaveLength(1);
  });

  it('a config with peers: each peer with its proxy and port, models by full name, key (not shown), filters and timeouts', async ({ expect, task }) => {
    const file = writeConfig(
      dir,
      'peers.yaml',
      `models:\n${demoModel('local')}peers:
  box-b:
    proxy: http://10.0.0.2:8080
    apiKey: very-secret
    models: [qwen, org/llama]
    filters:
      stripParams: "temperature"
      setParams: {max_tokens: 3}
    timeouts: {responseHeader: 0, connect: 5}
  open:
    proxy: https://api.example.com/v1api
    models: [m]
`,
    );
    const run = spawnCli(['--check-config', '--config', file], { tag: task.id });
    expect(await run.waitExit(), run.stderr()).toEqual({ code: 0, signal: null });
    const out = run.stdout();
    expect(out).toContain(
      [
        'peers (2; requests for their models are forwarded, nothing starts here):',
        '  box-b',
        '    proxy:       http://10.0.0.2:8080 (port 8080)',
        '    models:      box-b/qwen, box-b/org/llama',
        '    apiKey:      set (not shown; sent as Bearer and x-api-key)',
        '    filters:     strip temperature; set max_tokens',
        '    timeouts:    connect 5s, keepalive 30s, responseHeader off, tlsHandshake 10s, expectContinue 1s, idleConn 90s',
        '  open',
        '    proxy:       https://api.example.com/v1api (port 443)',
        '    models:      open/m',
        "    apiKey:      none (the client's Authorization is forwarded)",
        '    timeouts:    connect 30s, keepalive 30s, responseHeader 60s, tlsHandshake 10s, expectContinue 1s, idleConn 90s',
        '',
        'warnings (0):',
      ].join('\n'),
    );
    expect(out).not.toContain('very-secret');
  });

  it('-check-config (one dash, like every flag) with a top-level typo: exit 1, the error at its file:line, nothing printed to stdout', async ({
    expect,
    task,
  }) => {
    const file = writeConfig(dir, 'typo.yaml', `healthCheckTimeout: 30\nmodel:\n${demoModel('a')}`);
    const run = spawnCli(['-check-config', '-config', file], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toBe(`swapstate: failed to load config: ${file}:2: unknown key "model" (did you mean "models"?)\n`);
    expect(run.stdout()).toBe('');
  });

  it('a cmd that cannot be split into words: exit 1, naming the model (a start would fail at the first request)', async ({
    expect,
    task,
  }) => {
    const file = writeConfig(dir, 'quote.yaml', 'models:\n  m:\n    cmd: server --port ${PORT} --name "open\n');
    const run = spawnCli(['--check-config', `--config=${file}`], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toContain(`swapstate: ${file}: model m: cmd cannot be split into words: unterminated double quote`);
    expect(run.stderr()).toContain(`swapstate: ${file}: config check failed\n`);
    expect(run.stdout()).toContain('    cmd:         INVALID: unterminated double quote');
  });

  it('without --config: exit 1, as a start would', async ({ expect, task }) => {
    const run = spawnCli(['--check-config'], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 1, signal: null });
    expect(run.stderr()).toBe('swapstate: at least one of -config or -config-dir must be provided\n');
  });

  it('is in the usage text', async ({ expect, task }) => {
    const run = spawnCli(['--help'], { tag: task.id });
    expect(await run.waitExit()).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toContain('swapstate --check-config --config <file>');
    expect(run.stdout()).toMatch(/--check-config\s+validate the config and print what would run/);
  });
});
