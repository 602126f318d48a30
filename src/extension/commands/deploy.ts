/**
 * Commands that take a trial to deployment: Accept (a reviewed diff), Apply / Discard it, Try it with llama-server,
 * Export Model (commands/exportModel.ts: the model file out of the cache, then a reviewed diff again).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HaqaError } from '../../core/errors';
import { LlamaCppToolchain } from '../../core/toolchains/llamacpp/toolchain';
import { tryIt as serveTrial, type TryItResult } from '../../core/toolchains/llamacpp/tryIt';
import type { HaqaContext, Target } from '../context';
import { sessionRoot } from '../optimizeFlow';
import { readSettings } from '../settings';
import { Commands } from './ids';
import { standing } from '../../core/standing';
import { verdict } from '../../core/verdict';
import type { Prepared } from '../../core/prepare';
import { SessionStore } from '../../core/store';
import type { TrialRecord } from '../../core/types';
import { exportModel, type ExportArgs } from './exportModel';

export function registerDeployCommands(ctx: HaqaContext): vscode.Disposable[] {
  return [
    ctx.command(Commands.acceptConfiguration, (t?: Target) => acceptConfiguration(ctx, t)),
    ctx.command(Commands.applyDeployChange, () => applyDeployChange(ctx)),
    ctx.command(Commands.discardDeployChange, () => ctx.review.discard()),
    ctx.command(Commands.tryIt, (t?: Target) => tryIt(ctx, t)),
    ctx.command(Commands.exportModel, (a?: ExportArgs) => exportModel(ctx, a)),
  ];
}

/**
 * The deploy files for a trial as diffs (the settings' paths, the session's verdict and context): what Accept and
 * Export Model propose; nothing is written before Apply. Each warning is shown.
 */
export async function proposeDeploy(
  ctx: HaqaContext,
  o: { root: string; store: SessionStore; prepared: Prepared; trial: TrialRecord; modelFile?: string },
) {
  const s = readSettings();
  const { store, trial } = o;
  const objective = store.meta.spec.objective;
  const trials = ctx.currentTrials(store);
  const v = verdict(objective, trials);
  const pending = await ctx.review.propose({
    prepared: o.prepared,
    root: o.root,
    sessionId: store.id,
    trial,
    workspaceDir: path.dirname(o.root),
    configPath: s.deployConfigPath,
    modelfile: s.ollamaModelfile,
    verdict: v,
    requestedContext: store.meta.spec.workload.context,
    modelFile: o.modelFile,
  });
  for (const w of pending.warnings) void vscode.window.showWarningMessage(`HAQA: ${w}`);
  return { pending, standing: standing(objective, trials, v, trial.index) };
}

/** Proposes the deploy files for a trial (default: the best) as diffs; nothing is written before Apply. */
async function acceptConfiguration(ctx: HaqaContext, t?: Target) {
  const r = ctx.need(t);
  const { store, prepared } = await ctx.preparedFor(r.root, r.sessionId);
  const trial = ctx.trialOf(store, r.trial);
  const { pending, standing: stand } = await proposeDeploy(ctx, { root: r.root, store, prepared, trial });
  const files = pending.files.map((f) => path.basename(f.file)).join(', ');
  // Accepting the verdict (or a trial tied with it) is news; accepting one the verdict beats is a warning.
  const text = `HAQA: review the proposed ${files} for trial #${trial.index}. ${stand.sentence}.`;
  const asked =
    stand.kind === 'verdict' || stand.kind === 'tied'
      ? vscode.window.showInformationMessage(text, 'Apply', 'Discard')
      : vscode.window.showWarningMessage(text, 'Apply', 'Discard');
  void asked.then((a) => {
    if (a === 'Apply') void vscode.commands.executeCommand(Commands.applyDeployChange);
    else if (a === 'Discard') void vscode.commands.executeCommand(Commands.discardDeployChange);
  });
  return { trial: trial.index, files: pending.files.map((f) => f.file), standing: stand };
}

/** Writes the reviewed deploy files (or re-diffs them when one changed since). */
async function applyDeployChange(ctx: HaqaContext) {
  const r = ctx.review.pending;
  const res = await ctx.review.apply();
  if (res === 'applied' && r) {
    const cfg = r.files[0].file;
    markDeployed(ctx, r.root, r.sessionId, r.trial, cfg);
    void vscode.window
      .showInformationMessage(
        `HAQA: wrote ${r.files.map((f) => path.basename(f.file)).join(', ')}.` +
          (r.modelInCache
            ? " The model file is in HAQA's cache: Export Model… copies it into the workspace, so clearing the cache " +
              'does not break the deployment.'
            : ''),
        'Open',
        'Try It',
        ...(r.modelInCache ? ['Export Model…'] : []),
      )
      .then((a) => {
        if (a === 'Open') void vscode.window.showTextDocument(vscode.Uri.file(cfg));
        else if (a === 'Export Model…') void vscode.commands.executeCommand(Commands.exportModel);
        else if (a === 'Try It')
          void vscode.commands.executeCommand(Commands.tryIt, {
            root: ctx.runs.get(r.sessionId)?.request.root ?? sessionRoot(),
            sessionId: r.sessionId,
            trial: r.trial,
          });
      });
  }
  return res;
}

/**
 * Records in session.json which trial the deploy config now serves (the tree and the panel mark it "deployed", also
 * after a reload), and takes the mark off another session of the root that served the same deploy config before.
 * A session this window runs is updated through its own store, so the run's next write keeps the mark.
 */
function markDeployed(ctx: HaqaContext, root: string, sessionId: string, trial: number, file: string): void {
  const storeOf = (id: string) => ctx.runs.get(id)?.store ?? SessionStore.open(root, id);
  try {
    for (const m of SessionStore.list(root))
      if (m.id !== sessionId && m.deployed?.file === file) storeOf(m.id).updateMeta({ deployed: undefined });
    storeOf(sessionId).updateMeta({ deployed: { trial, file, at: new Date().toISOString() } });
  } catch (e) {
    // The files are written; a session folder that cannot take the mark must not turn Apply into a failure.
    ctx.log.warn(`deploy review: could not mark trial #${trial} of ${sessionId} as deployed: ${String(e)}`);
    return;
  }
  ctx.tree.refresh();
  for (const id of SessionStore.list(root).map((m) => m.id)) ctx.panels.panels.get(id)?.postState();
}

/** Serves a trial's configuration with llama-server on a free port, measures decode t/s, stops it. */
async function tryIt(ctx: HaqaContext, t?: Target): Promise<(TryItResult & { benchmark?: number }) | undefined> {
  ctx.requireTrust();
  const r = ctx.need(t);
  const { store, prepared } = await ctx.preparedFor(r.root, r.sessionId);
  const trial = ctx.trialOf(store, r.trial);
  if (!(prepared.toolchain instanceof LlamaCppToolchain) || !prepared.tools?.server)
    throw new HaqaError(
      'Try it needs llama-server and a real model (replayed sessions have none)',
      'run "HAQA: Build Toolchain"; accept a trial of a real model',
      'toolchain',
    );
  const a = await prepared.toolchain.artifactFor(trial.config);
  if (a.needsQuantize)
    throw new HaqaError(
      `the quantized file of trial #${trial.index} is not in the cache any more`,
      `re-run trial #${trial.index} (context menu) to rebuild it`,
      'input',
    );
  ctx.terminal();
  const res = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `HAQA: trying trial #${trial.index} with llama-server`,
      cancellable: true,
    },
    (_p, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      return serveTrial({
        runner: ctx.runner,
        serverBin: prepared.tools!.server!,
        modelFile: a.file,
        config: trial.config,
        workload: prepared.workload,
        trainedContext: prepared.model.contextLength,
        signal: ac.signal,
      });
    },
  );
  const bench = trial.metrics.decode?.mean;
  const served = res.decodeTokensPerSecond.toFixed(1);
  const startup = (res.startupMs / 1000).toFixed(1);
  void vscode.window.showInformationMessage(
    `HAQA: llama-server served trial #${trial.index} at ${served} t/s decode (${res.tokens} tokens; ` +
      `the benchmark measured ${bench?.toFixed(1) ?? '?'} t/s). Started in ${startup} s; stopped.`,
  );
  const text = JSON.stringify(res.text.slice(0, 200));
  ctx.log.info(`try it: trial #${trial.index} ${served} t/s (bench ${bench?.toFixed(1)}), text: ${text}`);
  return { ...res, benchmark: bench };
}
