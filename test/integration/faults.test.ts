/**
 * Faults caused for real against the real toolchain: a llama-bench that hangs (a wrapper around the real one that
 * sleeps instead of measuring). The session must stay bounded: by the step limit, and by the time budget.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { locateTools } from '../../src/core/toolchains/llamacpp/locate';
import { CLI, FIXTURES, tmpDir } from '../helpers/fixtures';

const MODEL = path.join(FIXTURES, 'trained', 'haqa-tiny-pystdlib-f16.gguf');
const FAST = [
  '--prompt-tokens',
  '32',
  '--gen-tokens',
  '8',
  '--repetitions',
  '1',
  '--accuracy',
  'off',
  '--confirm',
  'off',
];
let hangingBin = '';

before(() => {
  const real = locateTools();
  assert.ok(real, 'llama.cpp tools not found: run `node dist/cli.js toolchain build` (as .ci/run does) first');
  hangingBin = tmpDir('haqa-hang-');
  for (const f of fs.readdirSync(real.binDir))
    if (f.startsWith('llama-') && f !== 'llama-bench')
      fs.symlinkSync(path.join(real.binDir, f), path.join(hangingBin, f));
  // Answers --version and --list-devices like the real one (so the toolchain is recognised), then hangs on a measurement.
  fs.writeFileSync(
    path.join(hangingBin, 'llama-bench'),
    `#!/bin/sh\ncase "$1" in --version|--list-devices) exec "${real.bench}" "$@";; esac\nexec sleep 3600\n`,
    { mode: 0o755 },
  );
});

/** `haqa optimize --json` on the fixture with the hanging llama-bench, plus `extra` flags; its parsed summary. */
function hung(extra: string[]) {
  const dir = tmpDir();
  const args = ['optimize', '--model', MODEL, '--llamacpp-bin', hangingBin, '--session-dir', dir, '--json', ...FAST];
  const r = spawnSync(process.execPath, [CLI, ...args, ...extra], { encoding: 'utf8', timeout: 300_000 });
  return { r, s: JSON.parse(r.stdout) };
}

test('a hanging tool is bounded by --step-timeout: the trial fails naming the limit, the session goes on to its end', () => {
  const { r, s } = hung(['--budget', '2', '--step-timeout', '0.25']);
  assert.equal(s.trials.length, 2, r.stderr);
  for (const t of s.trials) {
    assert.equal(t.status, 'failed');
    assert.match(
      t.cause,
      /llama-bench timed out after \d+ s: a hang, or far too slow \(the step limit: --step-timeout MIN/,
    );
  }
  assert.equal(r.status, 1, 'no trial measured: nothing to recommend');
});

test('--time-budget cancels a trial that is running when it runs out; the session ends, the trial stays resumable', () => {
  const { r, s } = hung(['--budget', '3', '--time-budget', '0.1']);
  assert.equal(s.stopReason, 'time budget reached', r.stderr);
  // (Had the hung tool not been cancelled, it would sleep for an hour and spawnSync's limit would cut haqa off: no JSON.)
  const t = s.trials[s.trials.length - 1];
  assert.equal(t.status, 'cancelled');
  assert.match(t.cause, /the time budget ran out while it ran/);
});
