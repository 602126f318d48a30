import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ProcessRunner } from '../../src/core/process/runner';
import { tmpDir } from '../helpers/fixtures';

for (const mode of ['pty', 'pipe'] as const) {
  test(`${mode}: 200 short steps lose no final line`, async () => {
    const r = new ProcessRunner({ mode });
    assert.equal(r.mode, mode);
    const lost: number[] = [];
    for (let i = 0; i < 200; i++) {
      // The final line has no newline and is written right before exit: the case a pty drops.
      const res = await r.run([
        '/bin/sh',
        '-c',
        `i=0; while [ $i -lt 20 ]; do echo "row $i"; i=$((i+1)); done; printf 'final-${i}'`,
      ]);
      if (res.exitCode !== 0 || !res.stdout.endsWith(`row 19\nfinal-${i}`)) lost.push(i);
    }
    assert.deepEqual(lost, []);
  });
}

test('argv values are passed literally, never through a shell', async () => {
  const dir = tmpDir();
  const marker = path.join(dir, 'pwned');
  const r = await new ProcessRunner().run(['/bin/echo', `$(touch ${marker})`, '; touch', marker, '`id`']);
  assert.equal(r.stdout.trim(), `$(touch ${marker}) ; touch ${marker} \`id\``);
  assert.equal(fs.existsSync(marker), false);
});

test('timeout kills the process and says so', async () => {
  const r = await new ProcessRunner().run(['sleep', '30'], { timeoutMs: 300 });
  assert.equal(r.timedOut, true);
  assert.ok(r.durationMs < 10_000);
  assert.notEqual(r.exitCode, 0);
});

test('a process that ignores SIGTERM is killed after the grace period', async () => {
  const r = await new ProcessRunner({ mode: 'pipe' }).run(['/bin/sh', '-c', "trap '' TERM; sleep 30"], {
    timeoutMs: 200,
  });
  assert.equal(r.timedOut, true);
  assert.ok(r.durationMs < 15_000, `took ${r.durationMs} ms`);
});

test('cancellation through an AbortSignal', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await new ProcessRunner().run(['sleep', '30'], { signal: ac.signal });
  assert.equal(r.cancelled, true);
});

test('a missing program is a spawn error, not a crash', async () => {
  const r = await new ProcessRunner().run(['/nonexistent/llama-bench', '-h']);
  assert.match(r.spawnError ?? '', /ENOENT/);
  assert.equal(r.exitCode, null);
});

test('live output reaches listeners and the log file; exit code and peak memory come back', async () => {
  const dir = tmpDir();
  const logFile = path.join(dir, 'x.log');
  const runner = new ProcessRunner();
  const seen: string[] = [];
  const off = runner.subscribe((e) => {
    if (e.type === 'data') seen.push(e.data);
  });
  // Peak memory is sampled every 50 ms: the child holds its 64 MiB long enough to be seen.
  const r = await runner.run(
    [
      process.execPath,
      '-e',
      'const b = Buffer.alloc(64 << 20, 1); console.log("hello", b.length); console.error("to-stderr"); setTimeout(() => process.exit(3), 300)',
    ],
    { logFile },
  );
  off();
  assert.equal(r.exitCode, 3);
  assert.match(seen.join(''), /hello/);
  assert.match(seen.join(''), /to-stderr/);
  assert.match(fs.readFileSync(logFile, 'utf8'), /hello[\s\S]*|to-stderr/);
  assert.ok((r.peakRssBytes ?? 0) > 64 << 20, `peak ${r.peakRssBytes}`);
});

test('an empty or non-string argv is refused', async () => {
  await assert.rejects(new ProcessRunner().run([]), /argv/);
  await assert.rejects(new ProcessRunner().run(['echo', 1 as unknown as string]), /argv/);
});

test('captureStderr: what a tool prints on stderr is captured completely too', async () => {
  for (const mode of ['pty', 'pipe'] as const) {
    const r = await new ProcessRunner({ mode }).run(
      [
        process.execPath,
        '-e',
        "process.stdout.write('out;'); process.stderr.write('x'.repeat(100000) + 'LAST-ON-STDERR')",
      ],
      { captureStderr: true },
    );
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, 'out;', `${mode}: stdout and stderr must stay apart`);
    assert.equal(r.stderr!.length, 100000 + 'LAST-ON-STDERR'.length, `${mode}: stderr incomplete`);
    assert.ok(r.stderr!.endsWith('LAST-ON-STDERR'), `${mode}: stderr tail lost`);
    const plain = await new ProcessRunner({ mode }).run([
      process.execPath,
      '-e',
      "process.stderr.write('only-stderr')",
    ]);
    assert.equal(plain.stderr, undefined, 'stderr captured without captureStderr');
  }
});

test('stdoutDirect: the tool writes stdout straight to the capture file; listeners and the log still get it, after', async () => {
  const dir = tmpDir();
  const logFile = path.join(dir, 'x.log');
  const runner = new ProcessRunner({ mode: 'pipe' });
  const seen: string[] = [];
  runner.subscribe((e) => {
    if (e.type === 'data') seen.push(e.data);
  });
  const r = await runner.run(
    [process.execPath, '-e', "process.stdout.write('y'.repeat(200000) + 'END'); process.stderr.write('progress')"],
    { logFile, stdoutDirect: true, captureStderr: true },
  );
  assert.equal(r.stdout.length, 200003);
  assert.ok(r.stdout.endsWith('END'));
  assert.equal(r.stderr, 'progress');
  assert.ok(seen.join('').includes('END') && seen.join('').includes('progress'));
  assert.ok(r.outputTail.endsWith('END'), 'the late output reaches the tail');
  assert.ok(fs.readFileSync(logFile, 'utf8').includes('END'));
});
