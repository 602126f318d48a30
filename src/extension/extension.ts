import * as vscode from 'vscode';
import { TrialTreeProvider } from './trialTree';

/**
 * The extension entry: thin adapters over the same core as the CLI. What exists so far: the "HAQA" activity-bar
 * container with the Trials tree (sessions → trials from the workspace's .haqa) and "HAQA: Show Hardware Profile".
 */
export function activate(context: vscode.ExtensionContext): void {
  const tree = new TrialTreeProvider();
  context.subscriptions.push(
    vscode.window.registerTreeDataProvider('haqa.trials', tree),
    vscode.commands.registerCommand('haqa.refreshTrials', () => tree.refresh()),
    vscode.commands.registerCommand('haqa.showHardwareProfile', async () => {
      const { probeHardware, describeHardware } = await import('../core/hardware');
      const doc = await vscode.workspace.openTextDocument({ content: describeHardware(probeHardware()), language: 'plaintext' });
      await vscode.window.showTextDocument(doc);
      return doc.getText();
    }),
  );
}

export function deactivate(): void {}
