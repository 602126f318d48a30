/** Commands that set the machine up: build llama.cpp, the agent's API key, the hardware profile, the HAQA terminal. */
import * as vscode from 'vscode';
import { describeHardware, probeHardware } from '../../core/hardware';
import type { HaqaContext } from '../context';
import { setApiKey } from '../secrets';
import { Commands } from './ids';

export function registerSetupCommands(ctx: HaqaContext): vscode.Disposable[] {
  return [
    ctx.command(Commands.buildToolchain, async () => {
      ctx.requireTrust();
      return ctx.buildTools();
    }),
    vscode.commands.registerCommand(Commands.setApiKey, (value?: string) =>
      setApiKey(ctx.extension.secrets, typeof value === 'string' ? value : undefined),
    ),
    // A read-only document (nothing to save, no "save?" on close), probed afresh each time.
    vscode.commands.registerCommand(Commands.showHardwareProfile, async () => {
      const uri = ctx.docs.put('hardware-profile.txt', describeHardware(probeHardware()), 'hardware');
      const doc = await vscode.workspace.openTextDocument(uri);
      await vscode.window.showTextDocument(doc, { preview: true });
      return doc.getText();
    }),
    vscode.commands.registerCommand(Commands.showTerminal, () => {
      ctx.showTerminal();
    }),
  ];
}
