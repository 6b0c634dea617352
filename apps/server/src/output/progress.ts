import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import cliProgress from 'cli-progress';
import { pino, type Logger } from 'pino';

export interface ReporterOptions {
  readonly quiet: boolean;
  readonly verbose: boolean;
  /** JSON-lines log file in the run directory (every event, whatever the verbosity). */
  readonly logFile: string | null;
  /** Progress bars on a terminal; plain periodic lines otherwise (CI, pipes). */
  readonly tty?: boolean;
}

/**
 * Progress and logs for a run: bars for rounds, batches and attack steps on a terminal (cli-progress),
 * plain lines elsewhere, and structured JSON lines (pino) in the run directory.
 */
export class Reporter {
  private readonly opts: ReporterOptions;
  private readonly json: Logger | null;
  private readonly bars: cliProgress.MultiBar | null;
  private readonly barByName = new Map<string, cliProgress.SingleBar>();
  private lastPlain = 0;

  constructor(opts: ReporterOptions) {
    this.opts = opts;
    if (opts.logFile) mkdirSync(dirname(opts.logFile), { recursive: true });
    this.json = opts.logFile ? pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: opts.logFile, sync: true })) : null;
    const tty = opts.tty ?? Boolean(process.stdout.isTTY);
    this.bars = tty && !opts.quiet
      ? new cliProgress.MultiBar({ format: ' {name} |{bar}| {value}/{total} {info}', hideCursor: true, clearOnComplete: false, stopOnComplete: false }, cliProgress.Presets.shades_classic)
      : null;
  }

  /** A line for the user (and the JSON log). `detail` lines show only with --verbose. */
  log(line: string, level: 'info' | 'detail' | 'warn' | 'error' = 'info', fields: Record<string, unknown> = {}): void {
    this.json?.[level === 'detail' ? 'debug' : level]({ ...fields, msg: line });
    if (this.opts.quiet && level !== 'error') return;
    if (level === 'detail' && !this.opts.verbose) return;
    if (this.bars) this.bars.log(`${line}\n`);
    else (level === 'error' || level === 'warn' ? console.error : console.log)(line);
  }

  event(kind: string, fields: Record<string, unknown>): void {
    this.json?.info({ event: kind, ...fields });
  }

  /** Advances a named bar (rounds, batches, shadow, attack). */
  /** SPADV stages: shadow-training steps and attack cells each get their own bar. */
  attackProgress(label: string, done: number, total: number): void {
    this.progress(label.startsWith('shadow') ? 'shadow' : 'attack', done, total, label);
  }

  progress(name: string, value: number, total: number, info = ''): void {
    if (this.bars) {
      let b = this.barByName.get(name);
      if (!b) {
        b = this.bars.create(total, 0, { name: name.padEnd(8), info });
        this.barByName.set(name, b);
      }
      b.setTotal(total);
      b.update(value, { info });
      return;
    }
    // plain mode: at most one line every 5 s, plus every completion
    const now = Date.now();
    if (!this.opts.quiet && (value === total || now - this.lastPlain > 5000)) {
      this.lastPlain = now;
      console.log(`[${name}] ${value}/${total}${info ? ` ${info}` : ''}`);
    }
  }

  close(): void {
    this.bars?.stop();
    this.json?.flush();
  }
}
