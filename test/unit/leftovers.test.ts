import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ArtifactCache } from '../../src/core/artifacts';
import { printable } from '../../src/core/model';
import { ProcessRunner } from '../../src/core/process/runner';
import { PART_FILE, RUN_DIR, sweep } from '../../src/core/leftovers';
import { diagnoseFailure } from '../../src/core/toolchains/llamacpp/bench';
import { tmpDir } from '../helpers/fixtures';

/** The PID of a process that has exited (its number is free until the system wraps around). */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0']);
  await once(c, 'exit');
  return c.pid!;
}

test("leftovers of a killed HAQA (its runner's temp folder, a quantization's .part file) go once its PID is gone; a live PID's stay", async () => {
  const dead = await deadPid();
  const runs = tmpDir();
  fs.mkdirSync(path.join(runs, `haqa-run-${dead}-abc123`));
  fs.mkdirSync(path.join(runs, `haqa-run-${process.ppid}-def456`));
  fs.mkdirSync(path.join(runs, 'haqa-run-unrelated'));
  assert.equal(sweep(runs, RUN_DIR), 1);
  assert.deepEqual(fs.readdirSync(runs).sort(), [`haqa-run-${process.ppid}-def456`, 'haqa-run-unrelated']);
  // The artifact cache sweeps its own folder when it starts.
  const cache = tmpDir();
  const dir = path.join(cache, 'artifacts', 'abcdef0123456789');
  fs.mkdirSync(dir, { recursive: true });
  for (const f of [
    `Q4_0-1.gguf.part-${dead}`,
    `x.imatrix.gguf.part-${dead}.gguf`,
    `Q8_0-2.gguf.part-${process.ppid}`,
    'Q4_0-1.gguf',
  ])
    fs.writeFileSync(path.join(dir, f), 'x');
  new ArtifactCache(cache);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['Q4_0-1.gguf', `Q8_0-2.gguf.part-${process.ppid}`]);
  assert.ok(PART_FILE.test('a.gguf.part-12') && !PART_FILE.test('a.gguf'));
});

test('a tool that prints without end is bounded: the log and live view take 32 MiB, the run is stopped past 256 MiB', async () => {
  const dir = tmpDir();
  const log = path.join(dir, 'tool.log');
  let live = 0;
  const r = await new ProcessRunner({ mode: 'pipe' }).run(
    [process.execPath, '-e', "const b = Buffer.alloc(1 << 20, 97); for (;;) require('fs').writeSync(1, b)"],
    { logFile: log, onData: (d) => (live += d.length) },
  );
  assert.match(r.overflow ?? '', /printed more than 256 MiB of output and was stopped/);
  assert.ok(fs.statSync(log).size < 33 * 2 ** 20, `log ${fs.statSync(log).size} bytes`);
  assert.match(fs.readFileSync(log, 'utf8').slice(-200), /more bytes of output not shown or logged \(over 32 MiB\)/);
  assert.ok(live < 33 * 2 ** 20);
  assert.ok(r.stdout.length <= 32 * 2 ** 20);
  assert.equal(fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`haqa-run-${process.pid}-`)).length, 0);
});

test("a model's name is shown without control characters (terminal escapes, newlines) and cut to 120 characters", () => {
  assert.equal(printable('evil\u001b[2J\u001b]0;pwned\u0007name\nnext'), 'evil?[2J?]0;pwned?name?next');
  assert.equal(printable('a'.repeat(200)).length, 120);
  assert.equal(printable('Llama 3 8B'), 'Llama 3 8B');
});

test('SIGKILL is out of memory only when the tool was big; a small one was killed from outside', () => {
  const total = 24 * 2 ** 30;
  assert.match(
    diagnoseFailure('', null, 'SIGKILL', { peakRssBytes: 200 * 2 ** 20, totalBytes: total }),
    /killed from outside/,
  );
  assert.match(
    diagnoseFailure('', null, 'SIGKILL', { peakRssBytes: 20 * 2 ** 30, totalBytes: total }),
    /most likely out of memory/,
  );
  assert.match(diagnoseFailure('', 137, null), /most likely out of memory/);
  assert.match(diagnoseFailure('', null, 'SIGKILL', { totalBytes: total }), /before its memory was measured/);
});
