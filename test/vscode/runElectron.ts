/**
 * `npm run test:electron` — the same extension-host suite in desktop VS Code via @vscode/test-electron, for machines
 * with internet (it downloads VS Code). CI uses `npm run test:vscode` (code-server) instead.
 */
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { buildSuite } from './buildSuite';

const ROOT = path.resolve(__dirname, '../..');

async function main() {
  await runTests({ version: '1.100.3', extensionDevelopmentPath: ROOT, extensionTestsPath: await buildSuite(ROOT) });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
