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
import { CLI, FIXTURES, tmpDir, withFakeBench, withFakeTool } from '../helpers/fixtures';

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
let silentBin = '';
let fullBin = '';

before(() => {
  const real = locateTools();
  assert.ok(real, 'llama.cpp tools not found: run `node dist/cli.js toolchain build` (as .ci/run does) first');
  // Answers --version and --list-devices like the real one, then hangs on a measurement.
  hangingBin = withFakeBench(real, 'exec sleep 3600');
  // A llama-quantize that "succeeds" without writing anything (a wrong binary), and one that finds the disk full.
  silentBin = withFakeTool(real.binDir, 'llama-quantize', '#!/bin/sh\nexit 0\n');
  fullBin = withFakeTool(
    real.binDir,
    'llama-quantize',
    '#!/bin/sh\necho "llama_model_quantize: failed to write: No space left on device" >&2\nexit 1\n',
  );
});

/** `haqa optimize --json` on the fixture with the hanging llama-bench, plus `extra` flags; its parsed summary. */
function hung(extra: string[], bin = hangingBin) {
  const dir = tmpDir();
  const args = ['optimize', '--model', MODEL, '--llamacpp-bin', bin, '--session-dir', dir, '--json', ...FAST];
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

test('a llama-quantize that exits 0 without writing a file fails the trial saying so, not "exited with code 0"', () => {
  const { s } = hung(['--budget', '1', '--cache-dir', tmpDir()], silentBin);
  assert.equal(s.trials[0].status, 'failed');
  assert.match(
    s.trials[0].cause,
    /llama-quantize exited with code 0 but wrote no file: a wrong binary, or no space left/,
  );
});

test('a resume checks what it continues: a changed model file and another llama.cpp build are refused with the fix', () => {
  const dir = tmpDir();
  const model = path.join(dir, 'model.gguf');
  fs.copyFileSync(MODEL, model);
  const first = spawnSync(
    process.execPath,
    [CLI, 'optimize', '--model', model, '--budget', '1', '--session-dir', dir, '--json', ...FAST],
    { encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(first.status, 0, first.stderr);
  const { sessionId, sessionPath } = JSON.parse(first.stdout);
  const meta = JSON.parse(fs.readFileSync(path.join(sessionPath, 'session.json'), 'utf8'));
  assert.match(meta.modelSha256, /^[0-9a-f]{64}$/);
  const resume = () =>
    spawnSync(process.execPath, [CLI, 'optimize', '--resume', sessionId, '--budget', '2', '--session-dir', dir], {
      encoding: 'utf8',
      timeout: 300_000,
    });
  // Another build than the one the session measured with.
  fs.writeFileSync(
    path.join(sessionPath, 'session.json'),
    JSON.stringify({ ...meta, toolchain: { ...meta.toolchain, commit: 'deadbee' } }),
  );
  const other = resume();
  assert.equal(other.status, 1);
  assert.match(other.stderr, /was measured with llama\.cpp deadbee .*this run found/);
  assert.match(other.stderr, /fix: resume with --llamacpp-bin /);
  fs.writeFileSync(path.join(sessionPath, 'session.json'), JSON.stringify(meta));
  // The model file changed (a byte appended: still a GGUF, another sha256).
  fs.appendFileSync(model, Buffer.from([0]));
  const changed = resume();
  assert.equal(changed.status, 1);
  assert.match(changed.stderr, /the model file .* changed since the session started \(sha256 [0-9a-f]{12}… → /);
  const trials = fs.readFileSync(path.join(sessionPath, 'trials.jsonl'), 'utf8').trim().split('\n');
  assert.equal(trials.length, 1, 'a refused resume measures nothing');
});

test('a full cache disk stops the session (resumable) instead of failing every configuration in turn', () => {
  const { r, s } = hung(['--budget', '3', '--cache-dir', tmpDir()], fullBin);
  assert.equal(r.status, 1);
  assert.equal(s.status, 'failed');
  assert.match(s.stopReason, /the artifact cache's disk is full .*: free space, then resume/);
  assert.equal(s.trials.length, 1, 'no second configuration was spent on a full disk');
  assert.equal(s.trials[0].status, 'cancelled', 'not counted: a resume measures it');
});
