/**
 * A port whose connection attempts neither connect nor fail: what a dead host or a dropped
 * SYN looks like to a client, made on loopback, for live `timeouts.connect` tests.
 *
 * How: a process listens with a backlog of 1 and is then stopped (SIGSTOP), so it accepts
 * nothing; the kernel still completes handshakes into its accept queue until that is full,
 * and then drops further SYNs (Linux: `ListenOverflows`), so a client's connect hangs in SYN
 * retransmits. We fill the queue ourselves: connect until one attempt is still pending after
 * a while (the queue holds backlog + 1 on Linux; the loop does not rely on that number).
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface StalledListener {
  port: number;
  /** Kills the stopped process (SIGKILL works on a stopped one) and drops the queued sockets. */
  close(): void;
}

const LISTEN = `const s = require('node:net').createServer(() => {});
s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));`;

/** Whether a connect to `port` completes within `ms` (the socket is kept either way). */
function connects(port: number, ms: number, held: Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    held.push(s);
    s.on('error', () => {});
    const timer = setTimeout(() => resolve(false), ms);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function stalledListener(): Promise<StalledListener> {
  const child = spawn(process.execPath, ['-e', LISTEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  const held: Socket[] = [];
  const close = () => {
    for (const s of held) s.destroy();
    child.kill('SIGKILL');
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the listener exited (${code})`)));
      child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    });
    child.kill('SIGSTOP');
    // A loopback connect into a queue with room completes in microseconds; 1 s pending means
    // the queue is full (or the machine is very busy, which only costs another socket).
    for (let i = 0; i < 8; i++) if (!(await connects(port, 1_000, held))) return { port, close };
    throw new Error(`port ${port} kept accepting connections from a stopped process`);
  } catch (err) {
    close();
    throw err;
  }
}
