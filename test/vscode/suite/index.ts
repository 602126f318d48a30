/**
 * Runs inside the real extension host (loaded through the extensionTestsPath payload). Mocha with a reporter that
 * writes the results to $HAQA_TEST_RESULTS, since the extension host's console is not ours to read.
 */
import * as fs from 'node:fs';
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false });
  mocha.suite.emit('pre-require', globalThis, 'extension.test', mocha);
  await import('./extension.test');
  const results: { title: string; state: 'passed' | 'failed'; error?: string; ms?: number }[] = [];
  const failures = await new Promise<number>((resolve) => {
    const runner = mocha.run((n) => resolve(n));
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
    runner.on('fail', (t, err: Error) =>
      results.push({ title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err) }),
    );
  });
  const out = process.env.HAQA_TEST_RESULTS;
  if (out) fs.writeFileSync(out, JSON.stringify(results, null, 2));
  if (failures > 0 || results.length === 0) throw new Error(`${failures} extension-host test(s) failed`);
}
