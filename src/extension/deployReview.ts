/**
 * "Accept configuration": never writes silently. It computes the deploy config (haqa.deploy.json by default), the
 * llama-server launch script and, when asked, an Ollama Modelfile; shows current ↔ proposed as diffs; and writes
 * only on Apply. A file that changed after the diff was shown is a stale base: nothing is written and the diff is
 * shown again.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HaqaError } from '../core/errors';
import { describeHardware } from '../core/hardware';
import { deployFiles, servedContext, type DeployInput } from '../core/toolchains/llamacpp/deploy';
import { LlamaCppToolchain } from '../core/toolchains/llamacpp/toolchain';
import { wasMeasured, type TrialRecord } from '../core/types';
import type { Prepared } from '../core/prepare';
import { SCHEME, type VirtualDocs } from './virtualDocs';
import type { Verdict } from '../core/verdict';

export interface ProposedFile {
  /** Absolute path in the workspace. */
  file: string;
  /** Its content when the diff was shown (null: it did not exist), and that content's hash. */
  base: string | null;
  proposed: string;
  proposedUri: vscode.Uri;
}

export interface PendingReview {
  /** The session's .haqa root and id, and the trial the files serve. */
  root: string;
  sessionId: string;
  trial: number;
  files: ProposedFile[];
  warnings: string[];
  /** Whether the deploy files serve a file of HAQA's artifact cache (which "Export Model…" copies out). */
  modelInCache: boolean;
}

const hash = (s: string | null) => (s === null ? 'absent' : crypto.createHash('sha256').update(s).digest('hex'));
const read = (f: string): string | null => {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return null;
  }
};

export class DeployReview {
  pending?: PendingReview;

  constructor(
    private readonly docs: VirtualDocs,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * Computes the proposed files for a trial and opens the diff; resolves once the diff is shown (not on the user's
   * word).
   */
  async propose(o: {
    prepared: Prepared;
    /** The session's .haqa root (Apply marks the trial deployed in its session.json). */
    root: string;
    sessionId: string;
    trial: TrialRecord;
    workspaceDir: string;
    configPath: string;
    modelfile: boolean;
    /** The session's verdict, carried into the deploy config. */
    verdict?: Verdict;
    /** The session's --context as asked for (before the cut to the training context). */
    requestedContext?: number;
    /** The model file to serve instead of the trial's cached one (Export Model's copy). */
    modelFile?: string;
  }): Promise<PendingReview> {
    const { prepared: p, trial } = o;
    if (!(p.toolchain instanceof LlamaCppToolchain) || !p.tools)
      throw new HaqaError(
        'this session replays recorded measurements: it has no model file to deploy',
        'accept a trial of a session that optimized a real model',
        'input',
      );
    if (!wasMeasured(trial))
      throw new HaqaError(
        `trial #${trial.index} is ${trial.status}${trial.status === 'infeasible' ? ' and was never run' : ''}: there is nothing measured to accept`,
        'accept a trial that finished (done)',
        'input',
      );
    const warnings: string[] = [];
    if (trial.status === 'infeasible')
      warnings.push(`trial #${trial.index} violates the session's limits (${trial.cause})`);
    const artifact = await p.toolchain.artifactFor(trial.config);
    const modelFile = o.modelFile ?? artifact.file;
    if (o.modelFile && !fs.existsSync(o.modelFile))
      warnings.push(`the model file ${o.modelFile} does not exist: export the model again before serving`);
    else if (!o.modelFile && artifact.needsQuantize)
      warnings.push(
        `the quantized file is no longer in the cache (${artifact.file}): ` +
          `re-run trial #${trial.index} to rebuild it before serving`,
      );
    if (!p.tools.server) warnings.push('llama-server is missing from the llama.cpp tools: run "HAQA: Build Toolchain"');
    const input: DeployInput = {
      sessionId: o.sessionId,
      trial,
      sourceModel: p.model.path,
      modelFile,
      serverBin: p.tools.server ?? 'llama-server',
      workload: p.workload,
      hardware: describeHardware(p.hardware).split('\n').slice(0, 3).join('; '),
      toolchain: { commit: p.tools.commit, backend: p.tools.backend, source: p.tools.source, binDir: p.tools.binDir },
      verdict: o.verdict,
      trainedContext: p.model.contextLength,
      requestedContext: o.requestedContext,
    };
    const context = servedContext(input.workload, input.trainedContext, input.requestedContext);
    if (context.note) warnings.push(`-c ${context.context}: ${context.note}`);
    const configPath = path.isAbsolute(o.configPath) ? o.configPath : path.join(o.workspaceDir, o.configPath);
    const files = deployFiles(input, { configPath, modelfile: o.modelfile }).map((f) => ({
      file: f.path,
      base: read(f.path),
      proposed: f.content,
      proposedUri: this.docs.put(path.basename(f.path), f.content, 'proposed'),
    }));
    this.clear();
    this.pending = {
      root: o.root,
      sessionId: o.sessionId,
      trial: trial.index,
      files,
      warnings,
      modelInCache: modelFile === artifact.file && artifact.file !== p.model.path,
    };
    await vscode.commands.executeCommand('setContext', 'haqa.reviewPending', true);
    await this.showDiffs(this.pending);
    return this.pending;
  }

  private async showDiffs(r: PendingReview): Promise<void> {
    for (const f of [...r.files].reverse()) {
      const left = f.base === null ? this.docs.put(path.basename(f.file), '', 'absent') : vscode.Uri.file(f.file);
      await vscode.commands.executeCommand(
        'vscode.diff',
        left,
        f.proposedUri,
        `${path.basename(f.file)}: ${f.base === null ? 'new file' : 'current'} ↔ proposed (trial #${r.trial})`,
        { preview: false },
      );
    }
  }

  /** Writes the proposed files, unless one changed since the diff was shown (then it re-diffs and writes nothing). */
  async apply(): Promise<'applied' | 'stale' | 'none'> {
    const r = this.pending;
    if (!r) return 'none';
    const stale = r.files.filter((f) => hash(read(f.file)) !== hash(f.base));
    if (stale.length) {
      for (const f of stale) f.base = read(f.file);
      this.log.warn(
        `deploy review: ${stale.map((f) => f.file).join(', ')} changed since the diff was shown; showing it again`,
      );
      await this.closeDiffs();
      await this.showDiffs(r);
      const names = stale.map((f) => path.basename(f.file)).join(', ');
      void vscode.window.showWarningMessage(
        `HAQA: ${names} changed since the diff was shown. Review the new diff, then Apply again.`,
      );
      return 'stale';
    }
    for (const f of r.files) {
      fs.mkdirSync(path.dirname(f.file), { recursive: true });
      await vscode.workspace.fs.writeFile(vscode.Uri.file(f.file), Buffer.from(f.proposed, 'utf8'));
      if (f.file.endsWith('.sh')) fs.chmodSync(f.file, 0o755);
    }
    this.log.info(
      `deploy review: wrote ${r.files.map((f) => f.file).join(', ')} (session ${r.sessionId}, trial #${r.trial})`,
    );
    await this.closeDiffs();
    this.clear();
    return 'applied';
  }

  async discard(): Promise<'discarded' | 'none'> {
    if (!this.pending) return 'none';
    this.log.info(
      `deploy review: discarded trial #${this.pending.trial} of session ${this.pending.sessionId}; nothing written`,
    );
    await this.closeDiffs();
    this.clear();
    return 'discarded';
  }

  private async closeDiffs(): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === SCHEME);
    if (tabs.length) await vscode.window.tabGroups.close(tabs);
  }

  private clear(): void {
    for (const f of this.pending?.files ?? []) this.docs.drop(f.proposedUri);
    this.pending = undefined;
    void vscode.commands.executeCommand('setContext', 'haqa.reviewPending', false);
  }
}
