/**
 * haqa exec wrapper: runs one command (argv, no shell) and
 *  - copies its stdout both to our stdout (the live view: a pty or a pipe) and to a capture file, which cannot
 *    lose bytes the way a pty can at exit (node-pty issue #72);
 *  - polls the child's peak resident memory (VmHWM) while it runs;
 *  - writes a result file {exitCode, signal, peakRssBytes} after the capture file is flushed and closed;
 *  - forwards SIGTERM/SIGINT/SIGHUP to the child and exits with its status.
 * Usage: node exec-wrapper.js <capture-file> <result-file> [--capture-stderr] -- <argv...>
 * With --capture-stderr the child's stderr is also captured, into <capture-file>.err (kept apart from stdout, so
 * neither stream's lines are cut by the other's), for tools that print their results on stderr.
 * With --stdout-direct the child writes its stdout (and, with --capture-stderr, its stderr) straight into the capture
 * files, not through pipes, so there is no live view of them while it runs: llama.cpp logs from a worker thread that
 * is never joined at exit (common/log.cpp), and whatever it has not written by then is lost — behind a pipe, often
 * the last lines, which hold llama-perplexity's results.
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { MAX_OUTPUT, OUTPUT_CAP } from './limits';

const args = process.argv.slice(2);
let captureStderr = false;
let stdoutDirect = false;
while (args[2] === '--capture-stderr' || args[2] === '--stdout-direct') {
  if (args[2] === '--capture-stderr') captureStderr = true;
  else stdoutDirect = true;
  args.splice(2, 1);
}
const [capture, resultFile, sep, ...argv] = args;
if (!capture || !resultFile || sep !== '--' || argv.length === 0) {
  process.stderr.write('usage: exec-wrapper <capture-file> <result-file> [--capture-stderr] -- <argv...>\n');
  process.exit(2);
}

const out = fs.openSync(capture, 'w');
const err = captureStderr ? fs.openSync(`${capture}.err`, 'w') : undefined;
const errTarget = captureStderr ? (stdoutDirect ? err! : 'pipe') : 'inherit';
let peak = 0;
// Its own process group, so a signal reaches everything it started (a shell's children too).
const child = spawn(argv[0], argv.slice(1), {
  stdio: ['inherit', stdoutDirect ? out : 'pipe', errTarget],
  detached: true,
});
// The runner kills this pid too if the wrapper itself has to be killed.
if (child.pid) fs.writeFileSync(`${resultFile}.pid`, String(child.pid));

let overflow: string | undefined;
/** Bytes this wrapper wrote into the capture files from the pipes (counted, not stat'ed, on every chunk). */
let captured = 0;

function checkOutput(): void {
  if (overflow) return;
  let size = captured;
  // With --stdout-direct the tool writes the capture files itself: only their size tells (polled with the memory).
  if (stdoutDirect)
    try {
      size = fs.fstatSync(out).size + (err !== undefined ? fs.fstatSync(err).size : 0);
    } catch {
      return;
    }
  if (size > MAX_OUTPUT) {
    overflow = `it printed more than ${MAX_OUTPUT >> 20} MiB of output and was stopped`;
    killGroup('SIGKILL');
  }
}

let sampledAt = 0;
/** The child's peak resident memory so far (VmHWM: the kernel keeps the high-water mark, so any sample holds it). */
function readPeak(): void {
  if (!child.pid) return;
  sampledAt = Date.now();
  try {
    const m = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmHWM:\s+(\d+)\s+kB/);
    if (m) peak = Math.max(peak, Number(m[1]) * 1024);
  } catch {
    /* exited or not Linux */
  }
}
function sampleMem(): void {
  checkOutput();
  readPeak();
}
const timer = setInterval(sampleMem, 50);
/**
 * Also when the child prints (at most every 20 ms): a tool prints its results while it still holds its memory, so a
 * short run on a starved machine, where the timer may not fire before the child exits, still gets its peak.
 */
function sampleOnOutput(): void {
  if (Date.now() - sampledAt >= 20) readPeak();
}

function killGroup(sig: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* gone */
    }
  }
}

/** Bytes passed on to the live view, and those held back past OUTPUT_CAP (the runner would not show them). */
let forwarded = 0;
let withheld = 0;

/**
 * Passes a chunk on to the live view until OUTPUT_CAP bytes went there: a tool printing without end is then stopped
 * at the speed of a file, not at that of a pty or two pipes (a slow machine took longer than a step's time limit).
 */
function forward(to: NodeJS.WriteStream, chunk: Buffer): void {
  const room = Math.max(0, OUTPUT_CAP - forwarded);
  const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
  withheld += chunk.length - part.length;
  if (part.length === 0) return;
  forwarded += part.length;
  to.write(part);
}

child.stdout?.on('data', (chunk: Buffer) => {
  if (!overflow) {
    fs.writeSync(out, chunk);
    captured += chunk.length;
  }
  forward(process.stdout, chunk);
  checkOutput();
  sampleOnOutput();
});
child.stderr?.on('data', (chunk: Buffer) => {
  if (err !== undefined && !overflow) {
    fs.writeSync(err, chunk);
    captured += chunk.length;
  }
  forward(process.stderr, chunk);
  checkOutput();
  sampleOnOutput();
});

for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(sig, () => {
    killGroup(sig === 'SIGHUP' ? 'SIGTERM' : sig);
    setTimeout(() => killGroup('SIGKILL'), 3000).unref();
  });
}

function finish(exitCode: number | null, signal: NodeJS.Signals | null, error?: string): void {
  clearInterval(timer);
  fs.fsyncSync(out);
  fs.closeSync(out);
  if (err !== undefined) {
    fs.fsyncSync(err);
    fs.closeSync(err);
  }
  fs.writeFileSync(
    resultFile,
    JSON.stringify({
      exitCode,
      signal,
      peakRssBytes: peak || undefined,
      error,
      ...(overflow ? { overflow } : {}),
      ...(withheld ? { withheldBytes: withheld } : {}),
    }),
  );
  const code = error ? 127 : (exitCode ?? 128);
  // Let stdout drain to the live view before exiting.
  process.stdout.write('', () => process.exit(code));
}

child.on('error', (e) => finish(null, null, e.message));
child.on('close', (code, signal) => {
  sampleMem();
  finish(code, signal);
});
