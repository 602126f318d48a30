/**
 * "HAQA: Export Model…": the deployed trial's model file copied out of HAQA's artifact cache into the workspace
 * (`models/` by default) or a chosen folder — with progress, Cancel and a free-space check — and then the deploy
 * config and launch script proposed again, pointing there, through the same diff review as Accept (nothing is
 * rewritten before Apply). Clearing the cache then no longer breaks the deployment.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { HaqaError } from '../../core/errors';
import { copyModelFile, exportName } from '../../core/exportModel';
import { formatBytes } from '../../core/hardware';
import { isRecord } from '../../core/types';
import { quantRecipe } from '../../core/toolchains/llamacpp/space';
import { LlamaCppToolchain } from '../../core/toolchains/llamacpp/toolchain';
import type { HaqaContext } from '../context';
import { sessionRoot } from '../optimizeFlow';
import { readSettings } from '../settings';
import { Commands } from './ids';
import { proposeDeploy } from './deploy';

/** What tests (and other commands) may pass instead of asking: the folder, and whether to replace a file there. */
export interface ExportArgs {
  folder?: string;
  replace?: boolean;
}

/** The deployment as haqa.deploy.json records it: the session, the trial and the model file it serves. */
function readDeployConfig(file: string): { sessionId: string; trial: number; modelFile: string } {
  const none = (why: string) =>
    new HaqaError(
      `there is no deployment to export the model of: ${file} ${why}`,
      'accept a configuration and apply it first ("HAQA: Accept Configuration", then Apply)',
      'input',
    );
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw none((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not valid JSON');
  }
  if (!isRecord(doc) || !isRecord(doc.session) || !isRecord(doc.model)) throw none('is not a HAQA deploy config');
  const { id, trial } = doc.session;
  const modelFile = doc.model.file;
  if (typeof id !== 'string' || !Number.isInteger(trial) || typeof modelFile !== 'string')
    throw none('does not name its session, trial and model file');
  return { sessionId: id, trial: trial as number, modelFile };
}

/** models/ in the workspace (the default), or a folder the person picks. */
async function pickFolder(workspaceDir: string): Promise<string | undefined> {
  const models = path.join(workspaceDir, 'models');
  const items: (vscode.QuickPickItem & { folder?: string })[] = [
    { label: 'models/', description: 'in this workspace (default)', detail: models, folder: models },
    { label: 'Choose a folder…', description: 'anywhere on this machine' },
  ];
  // It opens after the session is prepared again (a second or more): a click elsewhere meanwhile must not dismiss it.
  const pick = await vscode.window.showQuickPick(items, {
    title: 'HAQA: Export Model — where to copy the model file',
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.folder) return pick.folder;
  const chosen = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    defaultUri: vscode.Uri.file(workspaceDir),
    openLabel: 'Export Here',
  });
  return chosen?.[0]?.fsPath;
}

export async function exportModel(
  ctx: HaqaContext,
  args: ExportArgs = {},
): Promise<{ file: string; files: string[] } | { file: string; nothingToDo: string } | undefined> {
  ctx.requireTrust();
  const workspaceDir = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!workspaceDir)
    throw new HaqaError(
      'Export Model needs a workspace folder (the deploy config lives there)',
      'open a folder',
      'input',
    );
  const s = readSettings();
  const configPath = path.isAbsolute(s.deployConfigPath)
    ? s.deployConfigPath
    : path.join(workspaceDir, s.deployConfigPath);
  const d = readDeployConfig(configPath);
  const root = sessionRoot();
  const { store, prepared } = await ctx.preparedFor(root, d.sessionId);
  const trial = ctx.trialOf(store, d.trial);
  if (!(prepared.toolchain instanceof LlamaCppToolchain))
    throw new HaqaError(
      'a replayed session has no model file to export',
      'export the model of a real session',
      'input',
    );
  const cached = await prepared.toolchain.artifactFor(trial.config);
  const nothing = (why: string) => {
    void vscode.window.showInformationMessage(`HAQA: nothing to export: ${why}.`);
    return { file: d.modelFile, nothingToDo: why };
  };
  if (cached.file === prepared.model.path)
    return nothing(`trial #${trial.index} serves the source model itself (${d.modelFile}), not a file of HAQA's cache`);
  if (path.resolve(d.modelFile) !== path.resolve(cached.file))
    return nothing(`${path.basename(configPath)} already serves ${d.modelFile}, outside HAQA's cache`);
  if (!fs.existsSync(cached.file))
    throw new HaqaError(
      `the quantized file of trial #${trial.index} is not in HAQA's cache any more (${cached.file})`,
      `re-run trial #${trial.index} (context menu in the HAQA view) to rebuild it, then export it`,
      'input',
    );
  const folder = args.folder ?? (await pickFolder(workspaceDir));
  if (!folder) return undefined;
  const name = exportName(prepared.model.path, cached.file, String(trial.config.quant), quantRecipe(trial.config));
  const dest = path.join(folder, name);
  if (fs.existsSync(dest) && !args.replace) {
    const a = await vscode.window.showWarningMessage(
      `HAQA: ${dest} exists. Replace it with trial #${trial.index}'s model?`,
      { modal: true },
      'Replace',
    );
    if (a !== 'Replace') return undefined;
  }
  const size = fs.statSync(cached.file).size;
  await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `HAQA: exporting ${name} (${formatBytes(size)})`,
      cancellable: true,
    },
    (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      let shown = 0;
      return copyModelFile(cached.file, dest, {
        signal: ac.signal,
        onProgress: ({ copied, total }) => {
          const pct = total ? (100 * copied) / total : 100;
          progress.report({ increment: pct - shown, message: `${formatBytes(copied)} of ${formatBytes(total)}` });
          shown = pct;
        },
      });
    },
  );
  ctx.log.info(`export model: copied ${cached.file} to ${dest} (trial #${trial.index} of session ${store.id})`);
  const { pending } = await proposeDeploy(ctx, { root, store, prepared, trial, modelFile: dest });
  const rel = path.relative(workspaceDir, dest);
  const names = pending.files.map((f) => path.basename(f.file)).join(', ');
  void vscode.window
    .showInformationMessage(
      `HAQA: copied the model to ${rel.startsWith('..') ? dest : rel}. Review ${names}, now pointing there, and Apply.`,
      'Apply',
      'Discard',
    )
    .then((a) => {
      if (a === 'Apply') void vscode.commands.executeCommand(Commands.applyDeployChange);
      else if (a === 'Discard') void vscode.commands.executeCommand(Commands.discardDeployChange);
    });
  return { file: dest, files: pending.files.map((f) => f.file) };
}
