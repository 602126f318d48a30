/** Commands on one trial of a session: re-run, delete, compare with the best, open its logs. */
import * as vscode from 'vscode';
import { HaqaError } from '../../core/errors';
import { acquireSessionLock } from '../../core/lock';
import { rerunTrial as rerunTrialInCore } from '../../core/session';
import { compareText } from '../../core/compare';
import { stat } from '../../core/format';
import { SessionStore } from '../../core/store';
import type { HaqaContext, Target } from '../context';
import { Commands } from './ids';

export function registerTrialCommands(ctx: HaqaContext): vscode.Disposable[] {
  return [
    ctx.command(Commands.rerunTrial, (t?: Target) => rerunTrial(ctx, t)),
    ctx.command(Commands.deleteTrial, (t?: Target) => deleteTrial(ctx, t)),
    ctx.command(Commands.compareWithBest, (t?: Target) => compareWithBest(ctx, t)),
    ctx.command(Commands.openTrialLog, (t?: Target) => openTrialLog(ctx, t)),
  ];
}

/**
 * Measures a trial's configuration again: a measured trial gets the new samples pooled into its own figures; a failed
 * or over-limit one (or a run that now fails) is recorded as a new trial, within the limits (see the core's
 * rerunTrial). Returns the index of the trial that holds the result.
 */
export async function rerunTrial(ctx: HaqaContext, t?: Target): Promise<number> {
  ctx.requireTrust();
  const r = ctx.need(t);
  if (ctx.runs.get(r.sessionId)?.live)
    throw new HaqaError('the session is running', 'stop it first, or wait for it to finish', 'input');
  const { store, prepared } = await ctx.preparedFor(r.root, r.sessionId);
  const trial = ctx.trialOf(store, r.trial);
  ctx.terminal().line(`re-run of trial #${trial.index}`);
  // Recorded by the core's one rule (limits, findings), as the session loop records its own trials; under the
  // session's lock (a terminal may be resuming this session).
  const lock = acquireSessionLock(store.dir, 'VS Code: Re-run Trial');
  let out: Awaited<ReturnType<typeof rerunTrialInCore>>;
  try {
    // Visible while it runs (quantize, fit, bench, accuracy can take minutes), and cancellable: a notification with the
    // step in progress, the same steps in the HAQA terminal.
    out = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `HAQA: re-running trial #${trial.index}`,
        cancellable: true,
      },
      (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return rerunTrialInCore({
          store,
          toolchain: prepared.toolchain,
          objective: store.meta.spec.objective,
          trial,
          runner: ctx.runner,
          signal: abort.signal,
          onProgress: (message) => {
            progress.report({ message });
            ctx.terminal().line(`  ${message}`);
          },
        });
      },
    );
  } finally {
    lock.release();
  }
  const rec = out.trial;
  ctx
    .terminal()
    .line(
      out.pooled
        ? `  pooled into #${rec.index}: ${rec.metrics.decode ? `decode ${stat(rec.metrics.decode)} t/s over ${rec.metrics.decode.n} samples` : 'measured again'}`
        : `  recorded as #${rec.index}: ${rec.status}${rec.cause ? ` (${rec.cause})` : ''}`,
    );
  ctx.tree.refresh();
  ctx.panels.panels.get(r.sessionId)?.postState();
  ctx.updateStatus();
  return rec.index;
}

/** Forgets a trial's measurement (an appended `deleted` record; trials.jsonl stays append-only). */
async function deleteTrial(ctx: HaqaContext, t?: Target): Promise<boolean> {
  const r = ctx.need(t);
  if (r.trial === undefined) throw new HaqaError('no trial chosen', 'right-click a trial in the HAQA view', 'input');
  if (ctx.runs.get(r.sessionId)?.live)
    throw new HaqaError('the session is running', 'stop it first, or wait for it to finish', 'input');
  // A caller (script, test) that already asked may pass { confirmed: true }; the UI always asks.
  const ok =
    (t as { confirmed?: boolean }).confirmed === true ||
    (await vscode.window.showWarningMessage(
      `Delete trial #${r.trial} of session ${r.sessionId}? Its measurement is forgotten ` +
        '(strategies may propose it again); the line stays in trials.jsonl, marked deleted.',
      { modal: true },
      'Delete',
    )) === 'Delete';
  if (!ok) return false;
  const store = SessionStore.open(r.root, r.sessionId);
  const lock = acquireSessionLock(store.dir, 'VS Code: Delete Trial');
  try {
    store.deleteTrial(r.trial);
  } finally {
    lock.release();
  }
  ctx.tree.refresh();
  ctx.panels.panels.get(r.sessionId)?.postState();
  ctx.updateStatus();
  return true;
}

/**
 * The session's best trial (the verdict's) and this one side by side: knobs (the differing ones marked), metrics
 * rounded as the panel rounds them, where the trial stands and what the comparison rule says; a read-only Markdown
 * document. Returns the two trials' indices.
 */
async function compareWithBest(ctx: HaqaContext, t?: Target): Promise<number[]> {
  const r = ctx.need(t);
  const store = SessionStore.open(r.root, r.sessionId);
  const trial = ctx.trialOf(store, r.trial);
  const b = ctx.trialOf(store);
  const order = ctx.runs.get(r.sessionId)?.prepared?.toolchain.space.knobs.map((k) => k.name);
  const text = compareText(store.meta.spec.objective, ctx.currentTrials(store), b, trial, order);
  const name = b.index === trial.index ? `trial-${b.index}.md` : `trial-${trial.index}-vs-best-${b.index}.md`;
  const doc = await vscode.workspace.openTextDocument(ctx.docs.put(name, text, 'compare'));
  await vscode.window.showTextDocument(doc, { preview: true });
  return [b.index, trial.index];
}

/** Opens the tool logs of a trial (none for replayed or cached steps). */
async function openTrialLog(ctx: HaqaContext, t?: Target): Promise<string[]> {
  const r = ctx.need(t);
  const logs = SessionStore.open(r.root, r.sessionId).logsOf(r.trial ?? 0);
  if (!logs.length) {
    void vscode.window.showInformationMessage(
      `HAQA: trial #${r.trial} has no log (replayed or cached steps write none).`,
    );
    return [];
  }
  for (const f of logs) await vscode.window.showTextDocument(vscode.Uri.file(f), { preview: false });
  return logs;
}
