/**
 * `npm start` under a supervisor that signals only the process it started (pm2, supervisord,
 * a shell's `kill <pid>`, `docker stop` of `CMD ["npm", "start"]`): npm passes the SIGTERM on
 * to its script's process, so that process must be swapstate itself (`exec node --import tsx
 * ...`). Before, npm signalled the `sh -c` in between, which died and left swapstate, and the
 * model it ran, serving with no parent; and then tsx's CLI, a relay that could SIGKILL it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parentPid } from '../helpers/leftovers.ts';
import { freePortBlock } from '../helpers/real-upstreams.ts';
import { chat, freePort, MARKER_ENV, markedProcesses, removeTempDirs, ROOT, tempDir, until, writeConfig } from './cli-harness.ts';

const marker = `npm-start-${process.pid}-${Date.now()}`;
afterAll(() => {
  for (const p of markedProcesses(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  removeTempDirs();
});

describe('npm start', () => {
  it('a SIGTERM to npm alone shuts swapstate down, and the model it started with it', async () => {
    // The demo config as `npm start` serves it, but on free ports (a later --config wins).
    const startPort = await freePortBlock(4);
    const example = readFileSync(`${ROOT}config/config.example.yaml`, 'utf8');
    const config = writeConfig(tempDir(), 'config.yaml', example.replace(/^startPort: 5800$/m, `startPort: ${startPort}`));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const npm = spawn('npm', ['start', '--silent', '--', '--config', config, '--listen', `127.0.0.1:${port}`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, [MARKER_ENV]: marker, SWAPSTATE_STATE_DIR: tempDir() },
    });
    let out = '';
    npm.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    npm.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
    await until(async () => (await fetch(`${url}/health`).catch(() => null))?.status === 200, 'swapstate to listen', 30_000);
    const r = await chat(url, 'chat-small');
    expect(r.status, r.body).toBe(200);
    const model = markedProcesses(marker).find((p) => p.cmd.includes('--id chat-small'));
    expect(model, JSON.stringify(markedProcesses(marker))).toBeDefined();
    // Nothing stands between npm and swapstate that could drop or escalate the signal: the
    // model's parent (swapstate) is npm's child. Through tsx's CLI there was a relay process in
    // between that SIGKILLed swapstate when it did not acknowledge the signal within 30 ms (a
    // loaded machine): no shutdown, and its models left running (seen with two suites at once).
    const swapstate = parentPid(model!.pid);
    expect(swapstate !== null && parentPid(swapstate), JSON.stringify(markedProcesses(marker))).toBe(npm.pid);

    npm.kill('SIGTERM'); // npm's pid only
    await until(() => out.includes('shutdown complete'), () => `swapstate to shut down; its output:\n${out.slice(-1000)}`, 20_000);
    await exited;
    await until(() => markedProcesses(marker).length === 0, () => `no process left (left: ${JSON.stringify(markedProcesses(marker))})`, 10_000);
  });
});
