// Bundles the extension host, the CLI, the exec wrapper and the session webview (script + stylesheet).
// `vscode` and native modules stay external: they are loaded at run time from the host / node_modules.
const esbuild = require('esbuild');
const fs = require('node:fs');

const watch = process.argv.includes('--watch');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external: ['vscode', 'node-pty'],
  logLevel: 'warning',
};

const builds = [
  { ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js' },
  { ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { ...common, entryPoints: ['src/core/process/execWrapper.ts'], outfile: 'dist/exec-wrapper.js' },
];
if (fs.existsSync('webview/main.ts')) {
  builds.push({
    ...common,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    external: [],
    minify: !watch,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
  });
  builds.push({
    ...common,
    platform: 'browser',
    external: [],
    entryPoints: ['webview/style.css'],
    outfile: 'dist/webview.css',
  });
}

(async () => {
  if (watch) {
    for (const b of builds) await (await esbuild.context(b)).watch();
  } else {
    await Promise.all(builds.map((b) => esbuild.build(b)));
    fs.chmodSync('dist/cli.js', 0o755);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
