/**
 * The "HAQA" terminal: a Pseudoterminal fed by the ProcessRunner's events, so the user sees every tool's real output
 * live. Ctrl+C cancels the running trial (the session pauses and asks what next); typing is otherwise ignored.
 */
import * as vscode from 'vscode';
import { shellQuoteForDisplay, type ProcessRunner, type RunnerEvent } from '../core/process/runner';
import { redact } from '../core/secrets';

const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

/** Terminals want CRLF; tools write LF (pipes) or CRLF (pty). */
export const toCrlf = (s: string) => s.replace(/\r?\n/g, '\r\n');

export class TrialPty implements vscode.Pseudoterminal {
  private readonly writeEmitter = new vscode.EventEmitter<string>();
  readonly onDidWrite = this.writeEmitter.event;
  private readonly closeEmitter = new vscode.EventEmitter<void>();
  readonly onDidClose = this.closeEmitter.event;
  private buffer: string[] = [];
  private open_ = false;
  private readonly unsubscribe: () => void;

  constructor(
    runner: ProcessRunner,
    private readonly onInterrupt: () => boolean,
    notice?: string,
  ) {
    this.unsubscribe = runner.subscribe((e) => this.onRunner(e));
    if (notice) this.write(`${DIM}${notice}${RESET}\r\n`);
  }

  open(): void {
    this.open_ = true;
    for (const s of this.buffer) this.writeEmitter.fire(s);
    this.buffer = [];
  }

  close(): void {
    this.open_ = false;
    this.unsubscribe();
  }

  handleInput(data: string): void {
    if (data === '\x03') {
      const cancelled = this.onInterrupt();
      this.write(`^C\r\n${DIM}${cancelled ? 'cancelling the running trial…' : 'no trial is running'}${RESET}\r\n`);
    }
  }

  /** A line from HAQA itself (trial headers, outcomes). */
  line(text: string): void {
    this.write(`${BOLD}${toCrlf(text)}${RESET}\r\n`);
  }

  private onRunner(e: RunnerEvent): void {
    if (e.type === 'start') this.write(`${DIM}$ ${e.argv.map(shellQuoteForDisplay).join(' ')}${RESET}\r\n`);
    else if (e.type === 'data') this.write(toCrlf(e.data));
    else {
      const r = e.result;
      const exit = r.cancelled ? 'cancelled' : r.timedOut ? 'timed out' : (r.exitCode ?? r.signal);
      this.write(`${DIM}[exit ${exit}, ${(r.durationMs / 1000).toFixed(1)} s]${RESET}\r\n`);
    }
  }

  private write(raw: string): void {
    // The agent's key never reaches the terminal (core/secrets.ts), whoever printed it.
    const s = redact(raw);
    if (this.open_) this.writeEmitter.fire(s);
    else {
      this.buffer.push(s);
      if (this.buffer.length > 5000) this.buffer.splice(0, this.buffer.length - 5000);
    }
  }

  dispose(): void {
    this.unsubscribe();
    this.writeEmitter.dispose();
    this.closeEmitter.dispose();
  }
}
