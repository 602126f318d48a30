import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { HaqaError } from '../errors';
import { childEnv } from '../secrets';
import { sweepRunDirs } from '../leftovers';
import { OUTPUT_CAP } from './limits';

/** The subset of node-pty the runner uses; VS Code's own node-pty or the bundled one both fit. */
export interface PtyModule {
  spawn(
    file: string,
    args: string[],
    opts: { name?: string; cols?: number; rows?: number; cwd?: string; env?: NodeJS.ProcessEnv },
  ): {
    pid: number;
    onData(cb: (d: string) => void): unknown;
    onExit(cb: (e: { exitCode: number; signal?: number }) => void): unknown;
    kill(signal?: string): void;
  };
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Live output (stdout + stderr as the terminal shows them). */
  onData?: (chunk: string) => void;
  /** The live output is appended here too. */
  logFile?: string;
  /** Capture stderr too (complete, into RunResult.stderr), for tools that print results there. */
  captureStderr?: boolean;
  /**
   * Let the tool write stdout (and a captured stderr) straight into files instead of pipes; they reach the live view
   * and the log only after it exits. For llama.cpp tools, whose logger thread loses its last lines at exit when it is
   * slowed by a pipe.
   */
  stdoutDirect?: boolean;
}

export interface RunResult {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  /** The command's stdout, read from the capture file: complete, byte for byte. */
  stdout: string;
  /** With captureStderr: its stderr, complete, from a capture file of its own. */
  stderr?: string;
  /** The last 64 KiB of the live output (stderr included). */
  outputTail: string;
  timedOut: boolean;
  cancelled: boolean;
  peakRssBytes?: number;
  durationMs: number;
  /** Set when the program could not be started at all. */
  spawnError?: string;
  /** Set when it printed so much that it was stopped (exec wrapper: more than 256 MiB). */
  overflow?: string;
}

export type RunnerEvent =
  | { type: 'start'; id: number; argv: string[]; cwd?: string }
  | { type: 'data'; id: number; data: string }
  | { type: 'exit'; id: number; result: RunResult };

const TAIL = 64 * 1024;
const KILL_GRACE_MS = 5000;

function wrapperPath(): string {
  const candidates = [
    path.join(__dirname, 'exec-wrapper.js'),
    path.resolve(__dirname, '../../../dist/exec-wrapper.js'),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found)
    throw new HaqaError(
      'dist/exec-wrapper.js is missing',
      { cli: 'run `npm run build` first', vscode: 'reinstall the HAQA extension (this copy is incomplete)' },
      'toolchain',
    );
  return found;
}

function loadPty(): PtyModule | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('node-pty') as PtyModule;
  } catch {
    return undefined;
  }
}

/**
 * Runs every process HAQA starts: argv arrays only (never a shell), with timeout, cancellation, live output to
 * listeners and a log file. The live view runs over a pty (node-pty) when one is available, else over pipes; in
 * both cases the machine-readable stdout comes from the exec wrapper's capture file, which loses nothing.
 */
export class ProcessRunner {
  readonly mode: 'pty' | 'pipe';
  private readonly pty?: PtyModule;
  private readonly listeners = new Set<(e: RunnerEvent) => void>();
  private nextId = 1;
  /** Why the pty is not used, when it is not. */
  readonly notice?: string;

  constructor(opts: { mode?: 'auto' | 'pty' | 'pipe'; pty?: PtyModule } = {}) {
    const want = opts.mode ?? 'auto';
    if (want !== 'pipe') this.pty = opts.pty ?? loadPty();
    if (want === 'pty' && !this.pty)
      throw new HaqaError('node-pty could not be loaded', 'run `npm ci` so node-pty is built, or use pipe mode');
    this.mode = this.pty ? 'pty' : 'pipe';
    if (want === 'auto' && !this.pty)
      this.notice = 'node-pty is not available: live output runs over pipes (no terminal colours)';
  }

  /** Subscribe to every run's start, output and exit (the extension's terminal does). */
  subscribe(listener: (e: RunnerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: RunnerEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        /* a listener's failure is not the run's */
      }
    }
  }

  async run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!Array.isArray(argv) || argv.length === 0 || argv.some((a) => typeof a !== 'string')) {
      throw new HaqaError('ProcessRunner.run needs a non-empty argv array of strings', 'this is a bug in HAQA');
    }
    const id = this.nextId++;
    sweepRunDirs();
    // Named with this PID, so a run killed with haqa (kill -9) is found and removed by the next runner (leftovers.ts).
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `haqa-run-${process.pid}-`));
    const capture = path.join(tmp, 'stdout');
    const resultFile = path.join(tmp, 'result.json');
    const wrapped = [
      process.execPath,
      wrapperPath(),
      capture,
      resultFile,
      ...(opts.captureStderr ? ['--capture-stderr'] : []),
      ...(opts.stdoutDirect ? ['--stdout-direct'] : []),
      '--',
      ...argv,
    ];
    // Tools never see the agent's key (see secrets.ts).
    const env = childEnv({ ...process.env, ...opts.env, ELECTRON_RUN_AS_NODE: '1' });
    const log = opts.logFile ? fs.openSync(opts.logFile, 'a') : undefined;
    if (log !== undefined) fs.writeSync(log, `$ ${argv.map(shellQuoteForDisplay).join(' ')}\n`);
    const started = Date.now();
    let tail = '';
    let timedOut = false;
    let cancelled = false;
    this.emit({ type: 'start', id, argv, cwd: opts.cwd });

    // A tool that prints without end (a bug, a loop) must not fill the disk or the memory: the log and the live view
    // take the first OUTPUT_CAP bytes of a run, then say how much more there was; the tail keeps the last bytes.
    let shown = 0;
    let dropped = 0;
    const onData = (d: string) => {
      tail = (tail + d).slice(-TAIL);
      if (shown >= OUTPUT_CAP) {
        dropped += Buffer.byteLength(d);
        return;
      }
      shown += Buffer.byteLength(d);
      if (log !== undefined) fs.writeSync(log, d);
      opts.onData?.(d);
      this.emit({ type: 'data', id, data: d });
    };

    let kill: (sig: string) => void;
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      if (this.pty) {
        const p = this.pty.spawn(wrapped[0], wrapped.slice(1), {
          name: 'xterm-256color',
          cols: 160,
          rows: 40,
          cwd: opts.cwd,
          env,
        });
        p.onData(onData);
        p.onExit((e) => resolve({ code: e.exitCode, signal: e.signal ? String(e.signal) : null }));
        kill = (sig) => {
          try {
            p.kill(sig);
          } catch {
            /* gone */
          }
        };
      } else {
        const c = spawn(wrapped[0], wrapped.slice(1), { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        c.stdout.setEncoding('utf8').on('data', onData);
        c.stderr.setEncoding('utf8').on('data', onData);
        c.on('close', (code, signal) => resolve({ code, signal }));
        c.on('error', () => resolve({ code: null, signal: null }));
        kill = (sig) => {
          try {
            c.kill(sig as NodeJS.Signals);
          } catch {
            /* gone */
          }
        };
      }
    });

    let forceTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      kill('SIGTERM');
      forceTimer = setTimeout(() => {
        kill('SIGKILL');
        try {
          process.kill(-Number(fs.readFileSync(`${resultFile}.pid`, 'utf8')), 'SIGKILL');
        } catch {
          /* gone */
        }
      }, KILL_GRACE_MS);
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, opts.timeoutMs)
      : undefined;
    const onAbort = () => {
      cancelled = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    const { code, signal } = await exited;
    if (timer) clearTimeout(timer);
    if (forceTimer) clearTimeout(forceTimer);
    opts.signal?.removeEventListener('abort', onAbort);

    let info: {
      exitCode?: number | null;
      signal?: string | null;
      peakRssBytes?: number;
      error?: string;
      overflow?: string;
      /** Bytes the wrapper did not pass on to the live view (past OUTPUT_CAP). */
      withheldBytes?: number;
    } = {};
    try {
      info = JSON.parse(fs.readFileSync(resultFile, 'utf8'));
    } catch {
      /* wrapper killed before writing */
    }
    const stdout = readCapped(capture) ?? '';
    const stderr = opts.captureStderr ? (readCapped(`${capture}.err`) ?? '') : undefined;
    fs.rmSync(tmp, { recursive: true, force: true });
    if (opts.stdoutDirect) {
      // Its output bypassed the live view: show it now, in the listeners and the log.
      const late = `${opts.captureStderr ? (stderr ?? '') : ''}${stdout}`;
      if (late) onData(late);
    }
    dropped += info.withheldBytes ?? 0;
    if (dropped) {
      const note = `\n[HAQA: ${dropped} more bytes of output not shown or logged (over ${OUTPUT_CAP >> 20} MiB)]\n`;
      if (log !== undefined) fs.writeSync(log, note);
      opts.onData?.(note);
      this.emit({ type: 'data', id, data: note });
    }
    if (log !== undefined) fs.closeSync(log);

    const result: RunResult = {
      argv,
      exitCode: info.exitCode !== undefined ? info.exitCode : info.error ? null : code,
      signal: info.signal ?? (info.exitCode === undefined ? signal : null),
      stdout,
      stderr,
      outputTail: tail,
      timedOut,
      cancelled,
      peakRssBytes: info.peakRssBytes,
      durationMs: Date.now() - started,
      spawnError: info.error,
      ...(typeof info.overflow === 'string' ? { overflow: info.overflow } : {}),
    };
    this.emit({ type: 'exit', id, result });
    return result;
  }
}

/**
 * A capture file's text, at most OUTPUT_CAP bytes of it (the results HAQA parses are a few KB; a tool printing
 * gigabytes must not take HAQA's memory with it). Undefined when there is no file.
 */
function readCapped(file: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = Math.min(fs.fstatSync(fd).size, OUTPUT_CAP);
    const buf = Buffer.alloc(size);
    const n = size ? fs.readSync(fd, buf, 0, size, 0) : 0;
    return buf.subarray(0, n).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** For logs and the terminal only; processes are never started from this text. */
export function shellQuoteForDisplay(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
