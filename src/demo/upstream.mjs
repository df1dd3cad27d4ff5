#!/usr/bin/env node
// @ts-check
// A tiny OpenAI-compatible server standing in for llama.cpp's llama-server.
// Used by the test suite (spawned as a real child process) and by the demo config,
// so it uses only node built-ins and starts in a few milliseconds.
// Inference answers carry `x-request-model`: the `model` of the request body as received
// (URI-encoded). Chat and completion answers report `usage` and llama.cpp-style `timings`
// (unstreamed: in the body; streamed: in the final chunk), at fixed speeds (see timings()).
//
// Fault injection (the reliability tests, test/fault-matrix): `--faults FILE`. While FILE
// exists it holds a JSON object, read at start, every 25 ms, and on every request, health
// probe and SIGTERM; while it is absent (or once it is removed: "the fault is gone") the
// server behaves normally. Keys (all optional):
//   "loading": true        stay loading: /health 503, inference 503 "Loading model" (like
//                          --load-delay, for as long as the key is set)
//   "crash": true          exit 1 at once, whatever the server is doing (set at start: it
//                          exits before it listens)
//   "hang": true           accept every request (health probes included) and never answer
//                          it, keeping the socket open; streams under way stall for good
//   "healthFlap": true     /health answers 503, 200, 503, 200 ... in turn, loading or not
//   "ignoreSigterm": true  log SIGTERM and ignore it (like --ignore-sigterm)
//   "slowStop": true       on SIGTERM stop listening, but exit (0) only once the key is
//                          switched off (a slow graceful stop: saving state, draining)
//   "sleepFail": true      POST /sleep answers 500 and the model stays awake (like --sleep-fail)
//   "wakeFail": true       POST /wake_up answers 500 and the model stays asleep (like --wake-fail)
//   "sleepHang": true      POST /sleep is accepted and never answered (like --sleep-hang)
//   "wakeHang": true       POST /wake_up is accepted and never answered (like --wake-hang)
// Write FILE atomically (write a temporary file, then rename it): a malformed read keeps the
// value read before.
//
// vLLM's sleep mode (issue 13; `vllm serve --enable-sleep-mode` with VLLM_SERVER_DEV_MODE=1):
//   POST /sleep?level=N    N 1 (default) or 2; asleep after --sleep-delay MS (default 50), then
//                          200 with an empty body, as vLLM answers once the weights are off the GPU.
//                          Level 1 keeps the weights (in CPU RAM): POST /wake_up alone brings them
//                          back. Level 2 discards them: after /wake_up the server is awake but its
//                          weights are missing until POST /collective_rpc {"method":"reload_weights"}.
//   POST /wake_up          awake after --wake-delay MS (default 100), then 200 (also when awake).
//   GET /is_sleeping       {"is_sleeping": true|false}
//   POST /collective_rpc   a JSON body {"method": ...}; reload_weights reloads missing weights; 200.
//   POST /reset_prefix_cache  200.
// While asleep the server stays up: /health and /v1/models answer 200, as vLLM's do, but
// inference (chat, completions, embeddings) answers 503 "model is sleeping", as vLLM's protected
// endpoints do; awake with its weights missing, inference answers 500 (vLLM fails the request
// inside the engine). Each of these calls prints one line to stdout besides the request line,
// `<id> sleep level=1`, `<id> wake_up`, `<id> collective_rpc reload_weights`,
// `<id> reset_prefix_cache`, so a test can read from the model's log that a call was made.
// Faults: --sleep-fail / --wake-fail answer 500 (the state unchanged), --sleep-hang /
// --wake-hang never answer; also switchable at run time in the faults file (above).
//
// Echo: an inference request whose JSON body has `"echo": true` is answered as usual (not
// streamed), plus `echo: {method, url, headers, body}`: what this server received (the raw
// body as text), so a test can see what a proxy in front (swapstate, a peer chain) forwarded.
//
// Websocket echo: GET /ws (any path ending in /ws) with a websocket upgrade is accepted
// (101), and each text message is answered `<id>: <message>` (a minimal RFC 6455 codec:
// unfragmented frames; close answered with close). Other upgrades are answered 404.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** @typedef {Record<string, unknown>} Obj */

const FLAGS = new Set(['ignore-sigterm', 'fork-child', 'sleep-fail', 'wake-fail', 'sleep-hang', 'wake-hang']);
const VALUED = new Set([
  'port',
  'host',
  'id',
  'load-delay',
  'crash-after',
  'pid-file',
  'stream-chunks',
  'chunk-delay',
  'faults',
  'sleep-delay',
  'wake-delay',
]);

/** @param {string} msg @returns {never} */
function die(msg) {
  process.stderr.write(`upstream: ${msg}\n`);
  process.exit(2);
}

/** Accepts both `--opt value` and `--opt=value`. @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Map<string, string>} */
  const opts = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) die(`unexpected argument ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (FLAGS.has(name) && eq < 0) opts.set(name, 'true');
    else if (VALUED.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) die(`--${name} needs a value`);
      opts.set(name, value);
    } else die(`unknown option ${arg}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
/** @param {string} name @param {number | undefined} def */
function num(name, def) {
  const raw = opts.get(name);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) die(`--${name} must be a non-negative number, got ${raw}`);
  return n;
}

const port = num('port', undefined) ?? die('--port is required');
const host = opts.get('host') ?? '127.0.0.1';
const id = opts.get('id') ?? 'demo';
const loadDelay = num('load-delay', 0) ?? 0;
const crashAfter = num('crash-after', undefined);
// Unset: a stream sends the reply's words once each, the same text as unstreamed. Set (or
// `chunks` in the body): exactly that many chunks, the words repeated as needed (long streams
// for tests).
const streamChunks = num('stream-chunks', undefined);
const chunkDelay = num('chunk-delay', 10) ?? 10;
// vLLM's sleep mode: a wake is a small fraction of a cold load (weights copied back from RAM).
const sleepDelay = num('sleep-delay', 50) ?? 50;
const wakeDelay = num('wake-delay', 100) ?? 100;

// A closed stdout pipe (the reader went away) must not crash the server.
process.stdout.on('error', () => {});
/** @param {string} line */
const log = (line) => process.stdout.write(`${line}\n`);

const faultsFile = opts.get('faults');
/** The faults in force (see the header); empty when no `--faults` or its file is absent. @type {Obj} */
let faults = {};
/** Re-reads the faults file; an injected crash happens here. @returns {Obj} */
function readFaults() {
  if (faultsFile === undefined) return faults;
  let text;
  try {
    text = readFileSync(faultsFile, 'utf8');
  } catch (err) {
    if (/** @type {NodeJS.ErrnoException} */ (err).code === 'ENOENT') faults = {};
    return faults;
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) faults = parsed;
  } catch {
    /* a torn write: keep the previous value */
  }
  if (faults.crash === true) {
    process.stderr.write(`${id} crashing (fault injected)\n`);
    process.exit(1);
  }
  return faults;
}
readFaults();
if (faultsFile !== undefined) setInterval(readFaults, 25);

if (crashAfter !== undefined) {
  setTimeout(() => {
    process.stderr.write(`${id} crashing on purpose (--crash-after ${crashAfter})\n`);
    process.exit(1);
  }, crashAfter);
}

/** Resolves when the upstream may listen (see --fork-child). */
let childReady = Promise.resolve(undefined);

if (opts.has('fork-child')) {
  // Simulates a forking wrapper: the grandchild stays in our process group, shrugs off
  // SIGTERM/SIGHUP and keeps our stdout/stderr pipes open after we exit.
  // It says so once its handlers are in place (a SIGTERM before that would still kill it),
  // on stdout and on fd 3; we listen only after that, so "the model is ready" implies "its
  // grandchild is in place": a TTL or unload right after the start meets the grandchild the
  // tests expect, however slowly a loaded machine started it.
  const script =
    "process.on('SIGTERM',()=>{});process.on('SIGHUP',()=>{});" +
    "process.stdout.write('forked child '+process.pid+' ready\\n');require('fs').writeSync(3,'r');setInterval(()=>{},1e6);";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  child.unref();
  const pidFile = opts.get('pid-file');
  if (pidFile !== undefined && child.pid !== undefined) writeFileSync(pidFile, `${child.pid}\n`);
  log(`child pid ${child.pid}`);
  const said = /** @type {import('node:stream').Readable} */ (child.stdio[3]);
  childReady = new Promise((resolve) => {
    said.once('data', () => {
      said.destroy();
      resolve(undefined);
    });
    said.once('end', () => {
      process.stderr.write(`${id} forked child died before it was ready\n`);
      process.exit(1);
    });
  });
}

let readyAt = Infinity; // set once listening; inference is refused until then
const now = () => Math.floor(Date.now() / 1000);
const loading = () => Date.now() < readyAt || faults.loading === true;
let probes = 0; // for the healthFlap fault

/** @param {http.ServerResponse} res @param {number} status @param {unknown} body */
function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
/** @param {http.ServerResponse} res @param {number} status @param {string} message @param {string} type */
const sendError = (res, status, message, type) => sendJson(res, status, { error: { code: status, message, type } });

/** @param {unknown} content  Chat content may be a string or an array of `{type:'text', text}` parts. */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p && typeof p === 'object' && typeof p.text === 'string' ? p.text : '')).join(' ');
}
/**
 * llama.cpp's `timings` for a reply, with made-up but fixed speeds (prompt 800 tokens/s,
 * generation 40 tokens/s), so activity metrics see real numbers.
 * @param {number} promptN @param {number} predictedN
 */
function timings(promptN, predictedN) {
  return {
    cache_n: 0,
    prompt_n: promptN,
    prompt_ms: promptN * 1.25,
    prompt_per_token_ms: 1.25,
    prompt_per_second: 800,
    predicted_n: predictedN,
    predicted_ms: predictedN * 25,
    predicted_per_token_ms: 25,
    predicted_per_second: 40,
  };
}

/** @param {string} s */
const countWords = (s) => s.split(/\s+/).filter(Boolean).length;

/** @param {Obj} body */
function chatPrompt(body) {
  const messages = Array.isArray(body.messages) ? /** @type {unknown[]} */ (body.messages) : [];
  const all = messages.map((m) => (m && typeof m === 'object' ? /** @type {Obj} */ (m) : {}));
  const lastUser = all.filter((m) => m.role === 'user').pop();
  return { last: textOf(lastUser?.content), all: all.map((m) => textOf(m.content)).join(' ') };
}

/** 8 deterministic floats in [-1, 1] derived from the text. @param {string} text */
function embed(text) {
  const digest = createHash('sha256').update(text).digest();
  return Array.from({ length: 8 }, (_, i) => Math.round(((digest.readUInt16BE(i * 2) / 65535) * 2 - 1) * 1e6) / 1e6);
}

/**
 * `text` cut into words, each with the white space before it (the last also with any after
 * it), so that the pieces joined are `text` exactly. @param {string} text
 */
function pieces(text) {
  const words = text.match(/\s*\S+/g) ?? [text];
  words[words.length - 1] += text.slice(words.join('').length);
  return words;
}

/**
 * Streams `text` word by word as SSE; each chunk is written (and flushed) on its own. By
 * default every word once, so the stream says exactly what the unstreamed answer says;
 * `chunks` (body) or --stream-chunks ask for a count: fewer words, or the words again.
 * @param {http.ServerResponse} res @param {Obj} body @param {string} text
 * @param {(piece: string, last: boolean) => Obj} makeChunk
 */
function stream(res, body, text, makeChunk) {
  const words = pieces(text);
  let total = typeof body.chunks === 'number' ? body.chunks : (streamChunks ?? words.length);
  if (typeof body.max_tokens === 'number' && body.max_tokens < total) total = body.max_tokens;
  total = Math.max(0, Math.floor(total));
  const delay = typeof body.chunk_delay_ms === 'number' ? body.chunk_delay_ms : chunkDelay;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  let sent = 0;
  let done = false;
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  res.on('close', () => {
    clearTimeout(timer); // no writes after the client went away
    if (!done) log(`${id} client closed stream after ${sent} chunks`);
  });
  const tick = () => {
    if (res.destroyed) return;
    if (faults.hang === true) return log(`${id} stream stalled after ${sent} chunks (fault injected)`);
    if (sent >= total) {
      done = true;
      res.end('data: [DONE]\n\n');
      return;
    }
    const word = words[sent % words.length] ?? '';
    // Repeating, the first word needs the blank it does not have.
    const piece = sent >= words.length && !/^\s/.test(word) ? ` ${word}` : word;
    res.write(`data: ${JSON.stringify(makeChunk(piece, sent === total - 1))}\n\n`);
    sent++;
    timer = setTimeout(tick, delay);
  };
  tick();
}

/**
 * @param {http.ServerResponse} res @param {string} path @param {Obj} body
 * @param {Obj | null} echo what was received, for an `"echo": true` request (see the header)
 */
function infer(res, path, body, echo = null) {
  const extra = echo ? { echo } : {};
  if (readFaults().hang === true) return log(`${id} hanging (fault injected)`);
  const created = now();
  const rid = `${id}-${Date.now().toString(36)}`;
  if (path === '/v1/embeddings') {
    const inputs = Array.isArray(body.input) ? body.input.map(String) : [String(body.input ?? '')];
    const tokens = inputs.reduce((n, s) => n + countWords(s), 0);
    return sendJson(res, 200, {
      object: 'list',
      data: inputs.map((s, index) => ({ object: 'embedding', index, embedding: embed(s) })),
      model: id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
      ...extra,
    });
  }
  const chat = path === '/v1/chat/completions';
  const prompt = chat ? chatPrompt(body) : { last: textOf(body.prompt), all: textOf(body.prompt) };
  const text = `Hello from ${id}. You said: ${prompt.last}`;
  if (body.stream === true && !echo) {
    let chunks = 0;
    return stream(res, body, text, (piece, last) => {
      chunks++;
      const finish_reason = last ? 'stop' : null;
      const choice = chat
        ? { index: 0, delta: { role: 'assistant', content: piece }, finish_reason }
        : { index: 0, text: piece, finish_reason };
      const chunk = { id: rid, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model: id, choices: [choice] };
      if (!last) return chunk;
      // As llama-server: the final chunk carries the usage and the timings (one token per chunk).
      const promptN = countWords(prompt.all);
      const usage = { prompt_tokens: promptN, completion_tokens: chunks, total_tokens: promptN + chunks };
      return { ...chunk, usage, timings: timings(promptN, chunks) };
    });
  }
  const usage = { prompt_tokens: countWords(prompt.all), completion_tokens: countWords(text) };
  const choice = chat
    ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
    : { index: 0, text, finish_reason: 'stop' };
  sendJson(res, 200, {
    id: rid,
    object: chat ? 'chat.completion' : 'text_completion',
    created,
    model: id,
    choices: [choice],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    timings: timings(usage.prompt_tokens, usage.completion_tokens),
    ...extra,
  });
}

const INFERENCE = new Set(['/v1/chat/completions', '/v1/completions', '/v1/embeddings']);

// Sleep mode (see the header): the level slept at, 0 awake; whether level 2 left the weights out.
let sleepLevel = 0;
let weightsMissing = false;
/** A fault of the sleep API, from its flag or the faults file. @param {string} name @param {string} key */
const sleepFault = (name, key) => opts.has(name) || faults[key] === true;

/**
 * The sleep API's POST routes; false when `path` is not one of them.
 * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} path @param {URLSearchParams} query
 */
function sleepApi(req, res, path, query) {
  if (path === '/sleep') {
    const level = query.get('level') ?? '1';
    log(`${id} sleep level=${level}`);
    if (level !== '1' && level !== '2') {
      sendError(res, 400, `invalid sleep level ${JSON.stringify(level)} (1 or 2)`, 'invalid_request_error');
    } else if (sleepFault('sleep-hang', 'sleepHang')) {
      log(`${id} sleep hanging (fault injected)`);
    } else if (sleepFault('sleep-fail', 'sleepFail')) {
      log(`${id} sleep failed (fault injected)`);
      sendError(res, 500, 'sleep failed (fault injected)', 'internal_server_error');
    } else {
      // A caller that gives up does not stop the sleep (nor does it a wake, below).
      setTimeout(() => {
        sleepLevel = Number(level);
        if (sleepLevel === 2) weightsMissing = true;
        if (!res.destroyed) res.writeHead(200).end();
      }, sleepDelay);
    }
    return true;
  }
  if (path === '/wake_up') {
    log(`${id} wake_up`);
    if (sleepFault('wake-hang', 'wakeHang')) {
      log(`${id} wake_up hanging (fault injected)`);
    } else if (sleepFault('wake-fail', 'wakeFail')) {
      log(`${id} wake_up failed (fault injected)`);
      sendError(res, 500, 'wake_up failed (fault injected)', 'internal_server_error');
    } else {
      setTimeout(
        () => {
          sleepLevel = 0;
          if (!res.destroyed) res.writeHead(200).end();
        },
        sleepLevel === 0 ? 0 : wakeDelay,
      );
    }
    return true;
  }
  if (path === '/reset_prefix_cache') {
    log(`${id} reset_prefix_cache`);
    res.writeHead(200).end();
    return true;
  }
  if (path === '/collective_rpc') {
    /** @type {Buffer[]} */
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      /** @type {unknown} */
      let body;
      try {
        body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      } catch {
        body = null;
      }
      const method = body && typeof body === 'object' && 'method' in body ? /** @type {Obj} */ (body).method : undefined;
      log(`${id} collective_rpc ${typeof method === 'string' ? method : '(no method)'}`);
      if (typeof method !== 'string') {
        return sendError(res, 400, 'collective_rpc needs a JSON body {"method": ...}', 'invalid_request_error');
      }
      if (method === 'reload_weights') weightsMissing = false;
      sendJson(res, 200, { results: [null] });
    });
    return true;
  }
  return false;
}

const server = http.createServer((req, res) => {
  const method = req.method ?? 'GET';
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  log(`${id} ${method} ${path}`);
  const f = readFaults();
  if (f.hang === true) return log(`${id} hanging (fault injected)`); // accepted, never answered
  if (method === 'GET' && path === '/health') {
    if (f.healthFlap === true) {
      probes++;
      return probes % 2 === 1 ? sendJson(res, 503, { status: 'flapping' }) : sendJson(res, 200, { status: 'ok' });
    }
    return loading() ? sendJson(res, 503, { status: 'loading' }) : sendJson(res, 200, { status: 'ok' });
  }
  if (method === 'GET' && path === '/v1/models') {
    return sendJson(res, 200, { object: 'list', data: [{ id, object: 'model', created: now(), owned_by: 'demo' }] });
  }
  if (method === 'GET' && path === '/is_sleeping') return sendJson(res, 200, { is_sleeping: sleepLevel > 0 });
  if (method === 'POST' && sleepApi(req, res, path, query)) return;
  if (method !== 'POST' || !INFERENCE.has(path)) return sendError(res, 404, `no route for ${method} ${path}`, 'not_found_error');
  /** @type {Buffer[]} */
  const parts = [];
  req.on('data', (c) => parts.push(c));
  req.on('end', () => {
    if (loading()) return sendError(res, 503, 'Loading model', 'unavailable_error');
    if (sleepLevel > 0) return sendError(res, 503, `model is sleeping (level ${sleepLevel}): POST /wake_up first`, 'unavailable_error');
    if (weightsMissing) {
      const message = 'model weights are not loaded: after a level 2 sleep, POST /collective_rpc reload_weights';
      return sendError(res, 500, message, 'internal_server_error');
    }
    /** @type {unknown} */
    let parsed;
    try {
      parsed = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch (err) {
      return sendError(res, 400, `invalid JSON body: ${err instanceof Error ? err.message : err}`, 'invalid_request_error');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return sendError(res, 400, 'request body must be a JSON object', 'invalid_request_error');
    }
    const body = /** @type {Obj} */ (parsed);
    // The model the request named, as it arrived here: tests read what swapstate forwarded
    // (a profile pin or useModelName rewrites it) without the answer's own `model` changing.
    // URI-encoded: a header value must not hold control characters (setHeader would throw).
    res.setHeader('x-request-model', encodeURIComponent(typeof body.model === 'string' ? body.model : JSON.stringify(body.model ?? null)));
    const echo = body.echo === true ? { method, url: req.url ?? '', headers: req.headers, body: Buffer.concat(parts).toString('utf8') } : null;
    const delay = typeof body.delay_ms === 'number' ? body.delay_ms : 0;
    // "Slow upstream": hold the response, but give up quietly if the client leaves first.
    if (delay <= 0) return infer(res, path, body, echo);
    const t = setTimeout(() => infer(res, path, body, echo), delay);
    res.on('close', () => clearTimeout(t));
  });
});

/** Open websocket connections, destroyed on shutdown (closeAllConnections skips them). */
/** @type {Set<import('node:stream').Duplex>} */
const websockets = new Set();

/**
 * One websocket frame from the server (never masked).
 * @param {number} opcode
 * @param {Buffer} payload
 */
function wsFrame(opcode, payload) {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    head[1] = len < 65536 ? 126 : 127;
    if (len < 65536) head.writeUInt16BE(len, 2);
    else head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

server.on('upgrade', (req, socket, head) => {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  log(`${id} UPGRADE ${path}`);
  socket.on('error', () => socket.destroy());
  const key = req.headers['sec-websocket-key'];
  if (!path.endsWith('/ws') || String(req.headers.upgrade).toLowerCase() !== 'websocket' || typeof key !== 'string') {
    socket.end('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nno socket');
    return;
  }
  const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n\r\n`);
  websockets.add(socket);
  socket.on('close', () => websockets.delete(socket));
  let buf = head;
  /** @param {Buffer} chunk */
  const onData = (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = (buf[0] ?? 0) & 0x0f;
      const masked = ((buf[1] ?? 0) & 0x80) !== 0;
      let len = (buf[1] ?? 0) & 0x7f;
      let at = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        at = 10;
      }
      const maskAt = at;
      if (masked) at += 4;
      if (buf.length < at + len) return;
      const payload = Buffer.from(buf.subarray(at, at + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] = (payload[i] ?? 0) ^ (buf[maskAt + (i % 4)] ?? 0);
      buf = buf.subarray(at + len);
      if (opcode === 0x8) {
        socket.end(wsFrame(0x8, payload.subarray(0, 2)));
        return;
      }
      if (opcode === 0x9) socket.write(wsFrame(0xa, payload));
      else if (opcode === 0x1) socket.write(wsFrame(0x1, Buffer.from(`${id}: ${payload.toString('utf8')}`)));
    }
  };
  socket.on('data', onData);
  if (head.length > 0) onData(Buffer.alloc(0));
});

server.on('error', (err) => {
  process.stderr.write(`${id} server error: ${err.message}\n`);
  process.exit(1);
});

void childReady.then(() =>
  server.listen(port, host, () => {
    readyAt = Date.now() + loadDelay;
    const addr = server.address();
    const boundPort = addr && typeof addr === 'object' ? addr.port : port;
    log(`upstream ${id} listening on http://${host}:${boundPort} pid ${process.pid}`);
  }),
);

/** @param {NodeJS.Signals} signal */
function shutdown(signal) {
  log(`${id} shutting down on ${signal}`);
  server.close(() => process.exit(0));
  server.closeAllConnections(); // open streams must not delay the exit
  for (const socket of websockets) socket.destroy();
  setTimeout(() => process.exit(0), 1000).unref(); // hard stop if anything still lingers
}

let stoppingSlowly = false;
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => {
  const f = readFaults();
  if (opts.has('ignore-sigterm') || f.ignoreSigterm === true) {
    process.stderr.write(`${id} ignoring SIGTERM\n`);
    return;
  }
  if (stoppingSlowly) return;
  if (f.slowStop !== true) return shutdown('SIGTERM');
  // A slow graceful stop: no new connections, exit once the fault is switched off.
  stoppingSlowly = true;
  log(`${id} stopping slowly on SIGTERM (fault injected)`);
  server.close();
  const poll = setInterval(() => {
    if (readFaults().slowStop === true) return;
    clearInterval(poll);
    log(`${id} shutting down on SIGTERM`);
    server.closeAllConnections();
    process.exit(0);
  }, 25);
});
