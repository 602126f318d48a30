import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startCodeServer } from '../vscode/codeServer';

test('a port already in use does not break the harness, and stopping leaves no process behind', async () => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  const busy = (blocker.address() as net.AddressInfo).port;
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-port-ws-'));
  try {
    const server = await startCodeServer({ workspace, preferredPort: busy });
    assert.notEqual(server.port, busy);
    assert.equal((await fetch(`${server.url}/healthz`)).ok, true);
    const marker = server.userDataDir;
    await server.stop();
    const left = spawnSync('pgrep', ['-f', marker], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', `processes left behind: ${left}`);
  } finally {
    blocker.close();
    fs.rmSync(workspace, { recursive: true, force: true });
  }
});
