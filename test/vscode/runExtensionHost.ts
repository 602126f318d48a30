/**
 * `npm run test:vscode`: the extension's mocha suite inside a real VS Code extension host (code-server 4.100.3),
 * loaded through VS Code's own test payload; Chromium opens the workbench, which reports back through
 * codeAutomationExit. Exit code = test result. Everything started here is stopped, also on failure or timeout.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCodeServer } from './codeServer';
import { launchBrowser } from './browser';
import { buildSuite } from './buildSuite';

const ROOT = path.resolve(__dirname, '../..');
const TIMEOUT_MS = Number(process.env.HAQA_VSCODE_TIMEOUT_MS ?? 600_000);

async function main(): Promise<number> {
  const suite = await buildSuite(ROOT);
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-ws-'));
  const results = path.join(workspace, '.results.json');
  const server = await startCodeServer({ workspace, env: { HAQA_TEST_RESULTS: results } });
  let b: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  const cleanup = async () => {
    clearTimeout(timer);
    await b?.close();
    await server.stop();
    fs.rmSync(workspace, { recursive: true, force: true });
  };
  const timer = setTimeout(() => {
    console.error(`test:vscode: timed out after ${TIMEOUT_MS} ms`);
    void cleanup().then(() => process.exit(1));
  }, TIMEOUT_MS);
  try {
    b = await launchBrowser();
    const page = await b.context.newPage();
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    const host = `127.0.0.1:${server.port}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', `vscode-remote://${host}${ROOT}`],
      ['extensionTestsPath', `vscode-remote://${host}${suite}`],
    ]);
    await page.goto(`${server.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    const code = await exited;
    let rows: { title: string; state: string; error?: string; ms?: number }[] = [];
    try {
      rows = JSON.parse(fs.readFileSync(results, 'utf8'));
    } catch {
      /* the suite never ran */
    }
    for (const r of rows)
      console.log(
        `${r.state === 'passed' ? '✔' : '✖'} ${r.title}${r.ms !== undefined ? ` (${r.ms} ms)` : ''}${r.error ? `\n    ${r.error.split('\n').slice(0, 6).join('\n    ')}` : ''}`,
      );
    const passed = rows.filter((r) => r.state === 'passed').length;
    const failed = rows.length - passed;
    if (!rows.length)
      console.log(
        `no extension-host test ran (codeAutomationExit ${code}); server output:\n${server.output().slice(-3000)}`,
      );
    console.log(`vscode: ${passed} passed, ${failed} failed`);
    return code === 0 && failed === 0 && passed > 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (c) => process.exit(c),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
