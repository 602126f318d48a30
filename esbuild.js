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

/**
 * Watch mode (`npm run watch`, the F5 pre-launch task): one "[watch] build started" / "[watch] build finished" pair
 * around each round of rebuilds of all bundles, and errors as "✘ [ERROR] text" + "    file:line:col:" (column
 * 1-based): what the background problemMatcher in .vscode/tasks.json reads (F5 launches after "finished").
 */
let running = 0; // bundles building now
let unbuilt = builds.length; // bundles that have not finished their first build
let open = false; // "started" logged, "finished" not yet
const watchLog = () => {
  let first = true;
  return {
    name: 'watch-log',
    setup(build) {
      build.onStart(() => {
        running++;
        if (!open) console.log('[watch] build started');
        open = true;
      });
      build.onEnd((result) => {
        for (const [label, list] of [
          ['✘ [ERROR]', result.errors],
          ['▲ [WARNING]', result.warnings],
        ])
          for (const { text, location } of list) {
            console.error(`${label} ${text}`);
            if (location) console.error(`    ${location.file}:${location.line}:${location.column + 1}:`);
          }
        running--;
        if (first) unbuilt--;
        first = false;
        if (open && running === 0 && unbuilt === 0) {
          open = false;
          console.log('[watch] build finished');
        }
      });
    },
  };
};

(async () => {
  if (watch) {
    for (const b of builds) {
      const ctx = await esbuild.context({ ...b, logLevel: 'silent', plugins: [watchLog()] });
      await ctx.watch();
    }
  } else {
    await Promise.all(builds.map((b) => esbuild.build(b)));
    fs.chmodSync('dist/cli.js', 0o755);
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
