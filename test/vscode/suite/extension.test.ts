import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const ID = 'haqa.haqa';

describe('HAQA in the extension host', () => {
  it('is installed and activates', async () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `extension ${ID} not found`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('registers its commands', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const c of ['haqa.showHardwareProfile', 'haqa.refreshTrials']) assert.ok(all.includes(c), `${c} is not registered`);
  });

  it('"Show Hardware Profile" opens the profile of this machine', async () => {
    const text = await vscode.commands.executeCommand<string>('haqa.showHardwareProfile');
    assert.match(text, /^CPU\s+\S/m);
    assert.match(text, /cores\s+\d+ physical/);
    assert.match(vscode.window.activeTextEditor?.document.getText() ?? '', /memory/);
  });
});
