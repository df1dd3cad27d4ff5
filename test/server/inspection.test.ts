/**
 * XState inspection: with `ws://`, a swap streams the actor, event and snapshot messages of
 * the scheduler, the process and the swap actor to a WebSocket receiver (the Stately
 * inspector protocol); with `log`, transitions become debug lines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import winston from 'winston';
import { WebSocketServer } from 'ws';
import { parseInspectMode } from '../../src/config/inspect-mode.ts';
import { createInspection, type Inspection } from '../../src/observability/inspect.ts';
import { until } from '../helpers/real-upstreams.ts';
import { demoModel, startServer, type RunningServer } from '../helpers/server-harness.ts';

let srv: RunningServer | null = null;
let inspection: Inspection | null = null;
let wss: WebSocketServer | null = null;
afterEach(async () => {
  await srv?.stop();
  inspection?.stop();
  await new Promise((r) => (wss ? wss.close(r) : r(undefined)));
  srv = null;
  inspection = null;
  wss = null;
});

const silent = winston.createLogger({ silent: true });

function chat(url: string, model: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

interface Message {
  type: string;
  sessionId: string;
  name?: string;
  event?: { type: string; replyTo?: unknown };
  snapshot?: { value?: unknown };
}

describe('inspection', () => {
  it('ws://: a swap produces actor, event and snapshot messages of the scheduler, the process and the swap', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss!.once('listening', r));
    const messages: Message[] = [];
    wss.on('connection', (socket) => socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message)));
    inspection = await createInspection(parseInspectMode(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`), silent);
    srv = await startServer(`models:\n${demoModel('a')}`, { inspect: inspection.inspect });
    expect((await chat(srv.url, 'a')).status).toBe(200);

    const sessionOf = (name: string) => messages.find((m) => m.type === '@xstate.actor' && m.name === name)?.sessionId;
    await until(() => ['scheduler', 'process:a', 'swap:a#1'].every((n) => sessionOf(n) !== undefined), 'the actors to be announced');
    for (const name of ['scheduler', 'process:a', 'swap:a#1']) {
      const id = sessionOf(name)!;
      await until(() => messages.some((m) => m.type === '@xstate.event' && m.sessionId === id), `events of ${name}`);
      await until(() => messages.some((m) => m.type === '@xstate.snapshot' && m.sessionId === id), `snapshots of ${name}`);
    }
    const process = sessionOf('process:a')!;
    expect(messages.filter((m) => m.type === '@xstate.event' && m.sessionId === process).map((m) => m.event?.type)).toContain('ENSURE_READY');
    // Sanitised: the reply address is an id, not a serialised actor.
    const ensure = messages.find((m) => m.event?.type === 'ENSURE_READY');
    expect(typeof ensure?.event?.replyTo).toBe('string');
    const scheduler = sessionOf('scheduler')!;
    expect(messages.filter((m) => m.type === '@xstate.event' && m.sessionId === scheduler).map((m) => m.event?.type)).toContain('REQUEST');
  });

  it('log: transitions are written as debug lines', async () => {
    const lines: string[] = [];
    const logger = winston.createLogger({
      level: 'debug',
      transports: [new winston.transports.Console({ silent: true })],
    });
    logger.on('data', (info: { message: string }) => lines.push(info.message));
    inspection = await createInspection('log', logger);
    srv = await startServer(`models:\n${demoModel('a')}`, { inspect: inspection.inspect });
    expect((await chat(srv.url, 'a')).status).toBe(200);
    await until(() => lines.some((l) => l.includes('inspect: process:a <- ENSURE_READY')), 'the ENSURE_READY line');
    expect(lines.some((l) => /inspect: process:a is \{"running":\{"ready":"(idle|busy)"\}\}/.test(l))).toBe(true);
  });

  it('parses the modes and refuses anything else', () => {
    expect(parseInspectMode('off')).toBe('off');
    expect(parseInspectMode(' log ')).toBe('log');
    expect(parseInspectMode('ws://127.0.0.1:9000')).toBe('ws://127.0.0.1:9000');
    expect(() => parseInspectMode('http://x')).toThrow('inspect must be off, log or a ws:// URL, got "http://x"');
  });
});
