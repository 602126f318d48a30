/**
 * `npm run test:electron` — the same extension-host suite in desktop VS Code via @vscode/test-electron, for machines
 * with internet (it downloads VS Code). CI uses `npm run test:vscode` (code-server) instead.
 */
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';

const ROOT = path.resolve(__dirname, '../..');

async function main() {
  const outDir = path.join(ROOT, 'out/test/vscode');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'suite/index.ts')], outfile: path.join(outDir, 'index.js'), bundle: true,
    platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'mocha'], logLevel: 'warning' });
  await runTests({ version: '1.100.3', extensionDevelopmentPath: ROOT, extensionTestsPath: path.join(outDir, 'index.js') });
}

main().catch((e) => { console.error(e); process.exit(1); });
