import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseCpuInfo, parseNvidiaSmiCsv, probeHardware } from '../../src/core/hardware';
import { readFixture } from '../helpers/fixtures';

test('parses /proc/cpuinfo: model, physical cores, SIMD flags', () => {
  const text = readFixture('cpuinfo-x86.txt');
  const c = parseCpuInfo(text);
  assert.equal(c.model, 'AMD EPYC');
  assert.equal(c.cores, 2);
  assert.ok(c.flags.includes('avx2'));
  assert.ok(!c.flags.includes('fpu'));
});

test('parses nvidia-smi CSV (header, MiB units)', () => {
  const text = readFixture('nvidia-smi-query-gpu.csv');
  const g = parseNvidiaSmiCsv(text);
  assert.equal(g.length, 1);
  assert.match(g[0].name, /NVIDIA H[12]00/);
  assert.ok(g[0].vramBytes > 70 * 2 ** 30);
  assert.match(g[0].computeCapability, /^9\.0$/);
  assert.deepEqual(parseNvidiaSmiCsv(''), []);
  assert.deepEqual(parseNvidiaSmiCsv('No devices were found\n'), []);
});

test('probes this machine', () => {
  const hw = probeHardware();
  assert.ok(hw.cpu.threads >= 1 && hw.cpu.cores >= 1 && hw.cpu.cores <= hw.cpu.threads);
  assert.ok(hw.memoryBytes > 0);
});
