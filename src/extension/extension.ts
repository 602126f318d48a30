import * as vscode from 'vscode';

/**
 * The extension entry. The full UI (optimize flow, trial explorer, session webview, terminal, diff review) is built
 * over the same core as the CLI; this entry registers what exists so far and loads the core lazily.
 */
export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('haqa.showHardwareProfile', async () => {
      const { probeHardware, describeHardware } = await import('../core/hardware');
      const doc = await vscode.workspace.openTextDocument({ content: describeHardware(probeHardware()), language: 'plaintext' });
      await vscode.window.showTextDocument(doc);
    }),
  );
}

export function deactivate(): void {}
