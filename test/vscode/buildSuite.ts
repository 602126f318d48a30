import * as path from 'node:path';
import * as esbuild from 'esbuild';

/** Bundles the extension-host mocha suite to out/test/vscode/index.js (vscode and mocha stay external) and returns its path. */
export async function buildSuite(root: string): Promise<string> {
  const outfile = path.join(root, 'out/test/vscode/index.js');
  await esbuild.build({
    entryPoints: [path.join(root, 'test/vscode/suite/index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
  return outfile;
}
