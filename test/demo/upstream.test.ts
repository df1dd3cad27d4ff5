import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../src/demo/upstream.mjs', import.meta.url));

interface Upstream {
  proc: ChildProcess;
  pid: number;
  url: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

// Every spawned upstream is its own process-group leader; afterEach SIGKILLs each group.
const groups: number[] = [];
const tempDirs: string[] = [];

afterEach(() => {
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // group already gone
    }
  }
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 15));
  }
}

/**
 * Waits for `line` in the upstream's stdout: the pipe is read on its own schedule, so a line
 * printed while answering a request may arrive after the answer (a loaded run saw it late).
 */
function logged(up: { stdout(): string }, line: string): Promise<void> {
  return waitFor(() => up.stdout().includes(line), `${JSON.stringify(line)} on the upstream's stdout`);
}

/** Alive means signal-able and not a zombie (orphans may linger as zombies until init reaps them). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: trust kill(0)
  }
}

async function start(args: string[]): Promise<Upstream> {
  const proc = spawn(process.execPath, [SCRIPT, '--port', '0', ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error('spawn failed');
  groups.push(proc.pid);
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  // 'exit', not 'close': a forked grandchild may keep the pipes open after the parent exits.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const listening = /listening on (http:\/\/\S+) pid (\d+)/;
  await waitFor(() => {
    if (gone && !listening.test(out)) throw new Error(`upstream exited early: ${err}`);
    return listening.test(out);
  }, 'listening line');
  const m = listening.exec(out);
  return { proc, pid: proc.pid, url: m?.[1] ?? '', stdout: () => out, stderr: () => err, exited };
}

async function post(url: string, body: string | object): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Response.json() is typed `unknown`; tests inspect shapes dynamically. */
async function json(res: Response | Promise<Response>): Promise<any> {
  return (await res).json();
}

/** Reads an SSE body, recording when each `data:` event arrived. */
async function readEvents(res: Response): Promise<{ data: string; at: number }[]> {
  const events: { data: string; at: number }[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let idx;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      if (block.startsWith('data: ')) events.push({ data: block.slice(6), at: Date.now() });
    }
  }
  return events;
}

describe('demo upstream', () => {
  it('answers 503 while loading, then 200 after the load delay', async () => {
    // 3 s, not 400 ms: on a loaded machine (a fresh-clone run beside another suite) more
    // than 400 ms passed between the listening line and the first probe.
    const up = await start(['--load-delay', '3000']);
    const first = await fetch(`${up.url}/health`);
    expect(first.status).toBe(503);
    expect(await json(first)).toEqual({ status: 'loading' });
    expect((await post(`${up.url}/v1/chat/completions`, { messages: [] })).status).toBe(503);
    await waitFor(async () => (await fetch(`${up.url}/health`)).status === 200, 'health 200', 15_000);
    expect(await json(fetch(`${up.url}/health`))).toEqual({ status: 'ok' });
  });

  it('lists its model and answers chat, completions and embeddings', async () => {
    const up = await start(['--id', 'tiny']);
    const models = await json(fetch(`${up.url}/v1/models`));
    expect(models).toMatchObject({ object: 'list', data: [{ id: 'tiny', object: 'model', owned_by: 'demo' }] });

    const chatRes = await post(`${up.url}/v1/chat/completions`, {
      model: 'tiny',
      messages: [{ role: 'user', content: 'ping' }],
    });
    expect(chatRes.headers.get('content-type')).toBe('application/json');
    const chat = await json(chatRes);
    expect(chat.object).toBe('chat.completion');
    expect(chat.choices[0].message).toEqual({ role: 'assistant', content: 'Hello from tiny. You said: ping' });
    expect(chat.usage.total_tokens).toBe(chat.usage.prompt_tokens + chat.usage.completion_tokens);

    const completion = await json(post(`${up.url}/v1/completions`, { prompt: 'abc' }));
    expect(completion).toMatchObject({ object: 'text_completion', choices: [{ text: 'Hello from tiny. You said: abc' }] });

    const emb = await json(post(`${up.url}/v1/embeddings`, { input: ['a', 'b'] }));
    expect(emb.object).toBe('list');
    expect(emb.data).toHaveLength(2);
    expect(emb.data[0].embedding).toHaveLength(8);
    const again = await json(post(`${up.url}/v1/embeddings`, { input: 'a' }));
    expect(again.data[0].embedding).toEqual(emb.data[0].embedding); // deterministic
    await logged(up, 'tiny POST /v1/embeddings');
  });

  it('"echo": true adds what it received (method, url, headers, raw body) to the answer, even when a stream was asked for', async () => {
    const up = await start(['--id', 'e']);
    const raw = '{"model":"e", "echo":true, "stream":true, "messages":[{"role":"user","content":"ping"}]}';
    const res = await fetch(`${up.url}/v1/chat/completions?x=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'k' }, body: raw });
    const body = await json(res);
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0].message.content).toBe('Hello from e. You said: ping');
    expect(body.echo).toMatchObject({ method: 'POST', url: '/v1/chat/completions?x=1', body: raw, headers: { 'x-api-key': 'k' } });
    const plain = await json(post(`${up.url}/v1/chat/completions`, { messages: [] }));
    expect(plain.echo).toBeUndefined();
  });

  it('streams N separate chunks then [DONE]', async () => {
    const up = await start(['--stream-chunks', '4', '--chunk-delay', '250']);
    const res = await post(`${up.url}/v1/chat/completions`, { stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const events = await readEvents(res);
    expect(events).toHaveLength(5);
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, 4).map((e) => JSON.parse(e.data));
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(chunks.map((c) => c.choices[0].delta.content).join('')).toBe('Hello from demo. You');
    // Flushed one by one, not buffered: 3 gaps of 250 ms between first and last chunk (a
    // buffered stream arrives at once). A busy client may read late and bunch some chunks, so
    // only one gap of the three is asserted.
    expect(events[3]!.at - events[0]!.at).toBeGreaterThanOrEqual(250);

    // max_tokens caps the chunk count.
    const capped = await readEvents(await post(`${up.url}/v1/completions`, { stream: true, prompt: 'p', max_tokens: 2 }));
    expect(capped.map((e) => e.data).slice(-1)).toEqual(['[DONE]']);
    expect(capped).toHaveLength(3);
  });

  it('streams the same text it answers unstreamed, word by word', async () => {
    const up = await start(['--id', 'chat-large', '--chunk-delay', '1']);
    // Blanks, a line break and a trailing space: the stream must keep them all.
    const said = 'tell me  about\nswapping ';
    for (const [path, body, pick] of [
      ['/v1/chat/completions', { messages: [{ role: 'user', content: said }] }, (c: any) => c.choices[0].delta?.content ?? c.choices[0].message?.content],
      ['/v1/completions', { prompt: said }, (c: any) => c.choices[0].text],
    ] as const) {
      const whole = pick(await json(post(`${up.url}${path}`, body)));
      expect(whole).toBe(`Hello from chat-large. You said: ${said}`);
      const events = await readEvents(await post(`${up.url}${path}`, { ...body, stream: true }));
      expect(events.at(-1)?.data).toBe('[DONE]');
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      expect(chunks.map(pick).join('')).toBe(whole);
      expect(chunks).toHaveLength(9); // one per word, not a fixed count
      expect(chunks.at(-1).choices[0].finish_reason).toBe('stop');
    }
  });

  it('logs a client that disconnects mid-stream', async () => {
    const up = await start([]);
    const ac = new AbortController();
    const res = await fetch(`${up.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ stream: true, chunks: 1000, chunk_delay_ms: 20 }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    await waitFor(() => /demo client closed stream after \d+ chunks/.test(up.stdout()), 'close log');
  });

  it('rejects malformed JSON with 400 and unknown routes with 404', async () => {
    const up = await start([]);
    const bad = await post(`${up.url}/v1/chat/completions`, '{not json');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error.type).toBe('invalid_request_error');
    const missing = await fetch(`${up.url}/nope`);
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toBeDefined();
  });

  it('exits 0 promptly on SIGTERM even with a stream open', async () => {
    const up = await start([]);
    const res = await post(`${up.url}/v1/chat/completions`, { stream: true, chunks: 1000, chunk_delay_ms: 20 });
    await res.body!.getReader().read();
    process.kill(up.pid, 'SIGTERM');
    const t0 = Date.now();
    expect(await up.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('--crash-after exits with code 1', async () => {
    const up = await start(['--crash-after', '200']);
    expect(await up.exited).toEqual({ code: 1, signal: null });
  });

  it('--ignore-sigterm survives SIGTERM and dies on SIGKILL', async () => {
    const up = await start(['--ignore-sigterm']);
    process.kill(up.pid, 'SIGTERM');
    await waitFor(() => up.stderr().includes('ignoring SIGTERM'), 'SIGTERM to be delivered');
    expect((await fetch(`${up.url}/health`)).status).toBe(200);
    process.kill(up.pid, 'SIGKILL');
    expect(await up.exited).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('--fork-child leaves a grandchild that only a group SIGKILL removes; it listens only once the grandchild is in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upstream-test-'));
    tempDirs.push(dir);
    const pidFile = join(dir, 'child.pid');
    const up = await start(['--fork-child', '--pid-file', pidFile]);
    const childPid = Number(readFileSync(pidFile, 'utf8').trim());
    // Listening implies the grandchild said it is ready, before the listening line: a stop
    // right after the start (a TTL of 1 s on a loaded machine) meets it with its handlers set.
    const out = up.stdout();
    expect(out.indexOf(`forked child ${childPid} ready`)).toBeGreaterThanOrEqual(0);
    expect(out.indexOf(`forked child ${childPid} ready`)).toBeLessThan(out.indexOf('listening on'));
    await logged(up, `child pid ${childPid}`);
    expect(isAlive(childPid)).toBe(true);

    process.kill(-up.pid, 'SIGTERM'); // the whole group, at once, as a stop does
    expect(await up.exited).toEqual({ code: 0, signal: null });
    expect(isAlive(childPid)).toBe(true);

    process.kill(-up.pid, 'SIGKILL'); // the group still exists: the child is in it
    await waitFor(() => !isAlive(childPid), 'grandchild to die');
  });
});

describe('demo upstream: vLLM sleep mode', () => {
  const chat = (up: Upstream) => post(`${up.url}/v1/chat/completions`, { messages: [{ role: 'user', content: 'hi' }] });
  const isSleeping = async (up: Upstream): Promise<boolean> => (await json(fetch(`${up.url}/is_sleeping`))).is_sleeping;

  it('level 1: /sleep answers 200 once asleep; asleep, inference is 503 and health 200; /wake_up brings it back', async () => {
    const up = await start(['--id', 'v', '--sleep-delay', '150', '--wake-delay', '200']);
    expect(await isSleeping(up)).toBe(false);
    const t0 = Date.now();
    const slept = await fetch(`${up.url}/sleep?level=1`, { method: 'POST' });
    expect(slept.status).toBe(200);
    expect(await slept.text()).toBe('');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(await isSleeping(up)).toBe(true);

    const refused = await chat(up);
    expect(refused.status).toBe(503);
    expect((await json(refused)).error.message).toMatch(/sleeping/);
    expect((await fetch(`${up.url}/health`)).status).toBe(200); // the server is up
    expect((await fetch(`${up.url}/v1/models`)).status).toBe(200);

    const t1 = Date.now();
    expect((await fetch(`${up.url}/wake_up`, { method: 'POST' })).status).toBe(200);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(190);
    expect(await isSleeping(up)).toBe(false);
    expect((await chat(up)).status).toBe(200);
    await logged(up, 'v sleep level=1\n');
    await logged(up, 'v wake_up\n');
  });

  it('/sleep without a level is level 1; a level other than 1 or 2 is 400', async () => {
    const up = await start(['--sleep-delay', '0', '--wake-delay', '0']);
    expect((await fetch(`${up.url}/sleep`, { method: 'POST' })).status).toBe(200);
    await logged(up, 'demo sleep level=1\n');
    expect((await fetch(`${up.url}/wake_up`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${up.url}/sleep?level=3`, { method: 'POST' })).status).toBe(400);
    expect(await isSleeping(up)).toBe(false);
  });

  it('level 2: /wake_up alone leaves the weights missing (500) until collective_rpc reload_weights', async () => {
    const up = await start(['--sleep-delay', '0', '--wake-delay', '0']);
    expect((await fetch(`${up.url}/sleep?level=2`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${up.url}/wake_up`, { method: 'POST' })).status).toBe(200);
    expect(await isSleeping(up)).toBe(false);
    const broken = await chat(up);
    expect(broken.status).toBe(500);
    expect((await json(broken)).error.message).toMatch(/weights are not loaded/);

    expect((await post(`${up.url}/collective_rpc`, { method: 'reload_weights' })).status).toBe(200);
    expect((await fetch(`${up.url}/reset_prefix_cache`, { method: 'POST' })).status).toBe(200);
    expect((await chat(up)).status).toBe(200);
    await logged(up, 'demo reset_prefix_cache\n');
    expect(up.stdout()).toMatch(/demo sleep level=2\n[\s\S]*demo wake_up\n[\s\S]*demo collective_rpc reload_weights\n[\s\S]*demo reset_prefix_cache\n/);
    expect((await post(`${up.url}/collective_rpc`, 'not json')).status).toBe(400);
  });

  it('--sleep-fail and --wake-fail answer 500 and leave the state as it was', async () => {
    const failsToSleep = await start(['--sleep-fail', '--sleep-delay', '0']);
    expect((await fetch(`${failsToSleep.url}/sleep?level=1`, { method: 'POST' })).status).toBe(500);
    expect(await isSleeping(failsToSleep)).toBe(false);
    expect((await chat(failsToSleep)).status).toBe(200);
    await logged(failsToSleep, 'demo sleep level=1\n');

    const failsToWake = await start(['--wake-fail', '--sleep-delay', '0']);
    expect((await fetch(`${failsToWake.url}/sleep`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${failsToWake.url}/wake_up`, { method: 'POST' })).status).toBe(500);
    expect(await isSleeping(failsToWake)).toBe(true);
    await logged(failsToWake, 'demo wake_up\n');
  });

  it('--sleep-hang and --wake-hang never answer (the call is still logged)', async () => {
    const up = await start(['--sleep-hang']);
    await expect(fetch(`${up.url}/sleep`, { method: 'POST', signal: AbortSignal.timeout(400) })).rejects.toThrow();
    await logged(up, 'demo sleep level=1\n');
    expect(await isSleeping(up)).toBe(false);

    const waking = await start(['--wake-hang', '--sleep-delay', '0']);
    expect((await fetch(`${waking.url}/sleep`, { method: 'POST' })).status).toBe(200);
    await expect(fetch(`${waking.url}/wake_up`, { method: 'POST', signal: AbortSignal.timeout(400) })).rejects.toThrow();
    await logged(waking, 'demo wake_up\n');
    expect(await isSleeping(waking)).toBe(true);
  });

  it('the faults file switches the sleep faults at run time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upstream-test-'));
    tempDirs.push(dir);
    const file = join(dir, 'faults.json');
    const up = await start(['--faults', file, '--sleep-delay', '0', '--wake-delay', '0']);
    writeFileSync(file, JSON.stringify({ sleepFail: true }));
    expect((await fetch(`${up.url}/sleep`, { method: 'POST' })).status).toBe(500);
    writeFileSync(file, JSON.stringify({ wakeFail: true }));
    expect((await fetch(`${up.url}/sleep`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(`${up.url}/wake_up`, { method: 'POST' })).status).toBe(500);
    writeFileSync(file, JSON.stringify({ wakeHang: true }));
    await expect(fetch(`${up.url}/wake_up`, { method: 'POST', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    rmSync(file); // the fault is gone
    expect((await fetch(`${up.url}/wake_up`, { method: 'POST' })).status).toBe(200);
    expect(await isSleeping(up)).toBe(false);
  });
});
