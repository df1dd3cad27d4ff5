/**
 * swapstate's logs, shaped like llama-swap's (reference 7.1):
 *
 * - `proxy`: swapstate's own messages, as `[<time> ][LEVEL] message` lines, filtered by
 *   `logLevel` (winston);
 * - `upstream`: every model's raw output (the LogHub's aggregate);
 * - `mux`: what `/logs` serves and stdout prints, chosen by `logToStdout`.
 *
 * Each is a 100 KiB ring with live subscribers, so `/logs/stream` can send history and then
 * follow. Upstream output never passes through winston: it is raw and unfiltered.
 */
import { Writable } from 'node:stream';
import winston from 'winston';
import type { LogLevel, LogToStdout } from '../config/types.ts';
import { BatchedWriter } from './batched-writer.ts';
import { goTimeFormatter } from './go-time.ts';
import { escapeControl } from './log-text.ts';
import { LogHub, RingLog } from './ring-log.ts';
import { TimeText } from './time-text.ts';

export interface LogSettings {
  logLevel: LogLevel;
  logTimeFormat: string;
  logToStdout: LogToStdout;
}

/** A stream that writes each formatted winston line into a RingLog. */
function ringStream(ring: RingLog): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      ring.write(chunk);
      done();
    },
  });
}

export class Logs {
  readonly hub: LogHub;
  readonly proxy = new RingLog();
  readonly mux = new RingLog();
  readonly logger: winston.Logger;
  /** The `logTimeFormat` text of now (made once per millisecond), or null for none. */
  private time: TimeText | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  /**
   * The level checks, taken when the level is set (here only): winston's own builds two
   * arrays per call (its `transports` getter), and the access log asks once per request.
   */
  private infoOn = true;
  private debugOn = false;

  constructor(settings: LogSettings, opts: { stdout?: (chunk: Buffer) => void } = {}) {
    this.hub = new LogHub();
    const lineFormat = winston.format.printf((info) => {
      const ts = this.time ? `${this.time.text()} ` : '';
      // One message, one line, nothing a terminal would act on (log-text.ts).
      return `${ts}[${String(info.level).toUpperCase()}] ${escapeControl(String(info.message))}`;
    });
    this.logger = winston.createLogger({
      level: settings.logLevel,
      format: lineFormat,
      transports: [new winston.transports.Stream({ stream: ringStream(this.proxy), eol: '\n' })],
    });
    this.apply(settings);
    // Which sources feed /logs and stdout is fixed for the life of the process, like
    // llama-swap's loggers (changing logToStdout needs a restart).
    const { logToStdout } = settings;
    if (logToStdout === 'proxy' || logToStdout === 'both') {
      this.unsubscribe.push(this.proxy.subscribe((c) => this.mux.write(c)));
    }
    if (logToStdout === 'upstream' || logToStdout === 'both') {
      this.unsubscribe.push(this.hub.upstream.subscribe((c) => this.mux.write(c)));
    }
    let stdout = opts.stdout;
    if (!stdout) {
      const batched = new BatchedWriter((c) => process.stdout.write(c));
      // The last lines ("shutdown complete") come right before process.exit.
      process.once('exit', () => batched.flush());
      stdout = (c) => batched.write(c);
    }
    this.unsubscribe.push(this.mux.subscribe(stdout));
  }

  /**
   * An INFO line written straight to the proxy log, in the exact format of the winston lines
   * above. For the access log: one line per request, and winston's stream pipeline cost more
   * than the rest of the logging did.
   */
  info(message: string): void {
    if (!this.infoOn) return;
    this.line('INFO', message);
  }

  /** A DEBUG line written the same way (the web UI's own requests in the access log). */
  debug(message: string): void {
    if (!this.debugOn) return;
    this.line('DEBUG', message);
  }

  /** `logLevel: debug`: lets a caller skip the work of a line that would be dropped. */
  isDebugEnabled(): boolean {
    return this.debugOn;
  }

  /**
   * An access log line (access-log.ts): INFO, or DEBUG for the web UI's own requests. Its
   * writer escaped every field a client wrote, with escapes that cover all that
   * {@link escapeControl} would (log-text.ts): not scanned a second time.
   */
  accessLine(level: 'INFO' | 'DEBUG', text: string): void {
    if (level === 'INFO' ? !this.infoOn : !this.debugOn) return;
    this.write(level, text);
  }

  private line(level: 'INFO' | 'DEBUG', message: string): void {
    this.write(level, escapeControl(message));
  }

  /** One string for the whole line, with its prefix and newline (one allocation, one encode). */
  private write(level: 'INFO' | 'DEBUG', text: string): void {
    const time = this.time;
    this.proxy.write(time === null ? `[${level}] ${text}\n` : `${time.text()} [${level}] ${text}\n`);
  }

  /** Level and time format may change on reload; the stdout routing may not. */
  apply(settings: Pick<LogSettings, 'logLevel' | 'logTimeFormat'>): void {
    this.logger.level = settings.logLevel;
    this.infoOn = this.logger.isInfoEnabled();
    this.debugOn = this.logger.isDebugEnabled();
    const format = settings.logTimeFormat ? goTimeFormatter(settings.logTimeFormat) : null;
    this.time = format === null ? null : new TimeText((ms) => format(new Date(ms)));
  }

  /** Stops feeding stdout and `/logs`; the logger itself keeps working (late access-log lines). */
  close(): void {
    for (const u of this.unsubscribe.splice(0)) u();
  }
}
