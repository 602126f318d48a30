/**
 * The deploy config against the JSON Schema the extension contributes (schemas/haqa.deploy.v1.schema.json), with a
 * maintained validator (ajv, draft-07 as VS Code's JSON language service reads it), and the packaging that ships it.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import Ajv from 'ajv';
import {
  DEPLOY_SCHEMA,
  DEPLOY_SCHEMA_FILE,
  contextFor,
  servedContext,
  deployConfig,
  deployFiles,
  type DeployInput,
} from '../../src/core/toolchains/llamacpp/deploy';
import { verdict } from '../../src/core/verdict';
import { statOfSamples } from '../../src/core/verdict';
import type { TrialRecord } from '../../src/core/types';

const ROOT = path.resolve(__dirname, '../..');
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, DEPLOY_SCHEMA_FILE), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(schema);
const errors = () => (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ');

const trial = (index: number, quant: string, decode: number[], extra: Partial<TrialRecord> = {}): TrialRecord => ({
  type: 'trial',
  index,
  key: `k${index}`,
  status: 'done',
  strategy: 'builtin',
  startedAt: '2026-01-01T00:00:00Z',
  endedAt: '2026-01-01T00:00:10Z',
  durationMs: 10_000,
  config: {
    quant,
    imatrix: 'none',
    imatrix_chunks: 32,
    threads: 2,
    gpu_layers: 999,
    flash_attn: true,
    batch: 2048,
    ubatch: 512,
    cache_type_k: 'q8_0',
    cache_type_v: 'f16',
  },
  metrics: {
    decode: statOfSamples(decode),
    prefill: statOfSamples(decode.map((x) => x * 10)),
    fileSizeBytes: 4e9,
    peakHostMemBytes: 5e8,
    accuracy: { ppl: 10.2, pplBase: 10, dPplPct: 2, dPplPctErr: 0.3, kld: 0.02, kldErr: 0.001 },
  },
  ...extra,
});

const input = (o: Partial<DeployInput> = {}): DeployInput => ({
  sessionId: 'S1',
  trial: trial(2, 'Q4_K_M', [50, 51, 49]),
  sourceModel: '/m/src f16.gguf',
  modelFile: "/cache/it's Q4_K_M.gguf",
  serverBin: '/opt/llama/llama-server',
  workload: { promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 },
  hardware: 'CPU x',
  toolchain: { commit: 'abc1234', backend: 'cuda' },
  ...o,
});

test('deployConfig() output validates against the contributed schema: plain, with a verdict, with a context', () => {
  const trials = [trial(1, 'Q8_0', [30, 31, 29]), trial(2, 'Q4_K_M', [50, 51, 49])];
  const v = verdict({ kind: 'decode' }, trials);
  for (const i of [
    input(),
    input({ verdict: v }),
    input({ workload: { promptTokens: 64, genTokens: 16, depth: 4096, repetitions: 2, context: 8192 } }),
    // A trial without accuracy or a peak (not measured): nulls where the schema allows them.
    input({ trial: { ...trial(3, 'F16', [10, 11, 9]), metrics: { decode: statOfSamples([10, 11, 9]) } } }),
  ]) {
    // Through the file as Apply writes it, not the object: what VS Code validates is the JSON text.
    const file = deployFiles(i, { configPath: '/ws/haqa.deploy.json', modelfile: false })[0];
    const doc = JSON.parse(file.content) as Record<string, unknown>;
    assert.equal(doc.schema, DEPLOY_SCHEMA);
    assert.equal(doc.$schema, undefined, 'a $schema VS Code cannot load');
    assert.ok(validate(doc), errors());
  }
});

test('the schema refuses what is not a deploy config: a wrong type, a missing model file, an unknown key, the old $schema', () => {
  const good = JSON.parse(JSON.stringify(deployConfig(input()))) as Record<string, Record<string, unknown>>;
  assert.ok(validate(good), errors());
  const cases: [string, (d: Record<string, Record<string, unknown>>) => void, RegExp][] = [
    ['context as a string', (d) => (d.runtime.context = '4096'), /\/runtime\/context must be integer/],
    ['no model file', (d) => delete d.model.file, /\/model must have required property 'file'/],
    ['argv as a shell line', (d) => (d.server.argv = 'llama-server -m x' as unknown), /\/server\/argv must be array/],
    [
      'another version',
      (d) => ((d as Record<string, unknown>).schema = 'haqa.deploy.v2'),
      /\/schema must be equal to constant/,
    ],
    [
      'an unknown top-level key',
      (d) => ((d as Record<string, unknown>).extra = 1),
      /must NOT have additional properties/,
    ],
    [
      'the $schema earlier versions wrote',
      (d) => ((d as Record<string, unknown>).$schema = 'haqa.deploy.v1'),
      /must NOT have additional properties/,
    ],
  ];
  for (const [what, change, expected] of cases) {
    const d = JSON.parse(JSON.stringify(good)) as Record<string, Record<string, unknown>>;
    change(d);
    assert.equal(validate(d), false, `${what} passed`);
    assert.match(errors(), expected, what);
  }
});

test('the extension contributes the schema for haqa.deploy.json and the .vsix ships it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { jsonValidation: { fileMatch: string[]; url: string }[] };
  };
  const jv = pkg.contributes.jsonValidation.find((j) => j.fileMatch.includes('haqa.deploy.json'));
  assert.ok(jv, 'no jsonValidation for haqa.deploy.json');
  // "./" makes VS Code resolve it inside the installed extension (no network, no machine path in the file).
  assert.equal(jv.url, `./${DEPLOY_SCHEMA_FILE}`);
  assert.ok(fs.existsSync(path.join(ROOT, jv.url)));
  // What vsce would put in the .vsix (the same .vscodeignore the e2e suite packages with).
  const ls = spawnSync(path.join(ROOT, 'node_modules/.bin/vsce'), ['ls', '--no-dependencies'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(ls.status, 0, ls.stderr);
  assert.ok(ls.stdout.split('\n').includes(DEPLOY_SCHEMA_FILE), `not packaged:\n${ls.stdout}`);
});

test("the served context is cut to the model's training context, in the deploy file, the launch script and the Modelfile, with the reason", () => {
  // The default context (4096) on a model trained for 512: what llama-server would cut silently (in its log only).
  const files = deployFiles(input({ trainedContext: 512 }), { configPath: '/ws/haqa.deploy.json', modelfile: true });
  const doc = JSON.parse(files[0].content) as Record<string, Record<string, unknown>>;
  assert.ok(validate(doc), errors());
  assert.equal(doc.runtime.context, 512);
  assert.match(
    String(doc.runtime.contextNote),
    /^the default context \(4096 tokens\) is more than the model was trained for \(512 tokens, its GGUF context_length\): llama-server would cut -c 4096 to 512/,
  );
  const argv = doc.server.argv as string[];
  assert.equal(argv[argv.indexOf('-c') + 1], '512');
  assert.match(files[1].content, /^# -c: the default context \(4096 tokens\) is more than/m);
  assert.match(files[1].content, / -c 512 /);
  assert.match(files[2].content, /^PARAMETER num_ctx 512$/m);
  // A session's --context cut when it started (workloadFor): the deploy file says what was asked for.
  const asked = servedContext(
    { promptTokens: 64, genTokens: 16, depth: 1024, repetitions: 2, context: 2048 },
    2048,
    8192,
  );
  assert.equal(asked.context, 2048);
  assert.match(
    asked.note ?? '',
    /^the context asked for \(8192 tokens\) is more than the model was trained for \(2048 tokens/,
  );
  // Nothing to say when the model holds it, or its training context is unknown (0).
  for (const trained of [4096, 32768, 0]) {
    const d = deployConfig(input({ trainedContext: trained })) as Record<string, Record<string, unknown>>;
    assert.equal(d.runtime.context, 4096, `trained ${trained}`);
    assert.equal(d.runtime.contextNote, undefined, `trained ${trained}`);
    assert.equal(servedContext(input().workload, trained).note, undefined);
  }
  assert.equal(contextFor({ promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3, context: 16384 }, 8192), 8192);
  assert.equal(contextFor({ promptTokens: 512, genTokens: 128, depth: 0, repetitions: 3 }, 8192), 4096);
});

test("the deploy file says which llama.cpp build serves it, so HAQA's hash-named llama-server folder is explained", () => {
  const bin = '/home/u/.cache/haqa/llama.cpp/bin/80fb11ac73e6-cpu-05cb5e62';
  const own = deployConfig(
    input({
      serverBin: `${bin}/llama-server`,
      toolchain: { commit: '80fb11ac73e6f00d', backend: 'cpu', source: 'cache', binDir: bin },
    }),
  ) as Record<string, Record<string, Record<string, unknown>>>;
  assert.ok(validate(own), errors());
  assert.deepEqual(
    { ...own.server.llamaCpp, note: undefined },
    { commit: '80fb11ac73e6f00d', backend: 'cpu', source: 'cache', binDir: bin, note: undefined },
  );
  assert.match(
    String(own.server.llamaCpp.note),
    /^HAQA's own build of llama\.cpp 80fb11ac73e6, cpu backend, in HAQA's cache: its folder is named <commit>-<backend>-<hash of the tool set>\. Emptying the toolchain cache \(haqa clean --toolchain\) removes it/,
  );
  const mine = deployConfig(
    input({ toolchain: { commit: 'abc1234', backend: 'cuda', source: 'explicit', binDir: '/opt/llama' } }),
  ) as Record<string, Record<string, Record<string, unknown>>>;
  assert.ok(validate(mine), errors());
  assert.equal(
    mine.server.llamaCpp.note,
    'llama.cpp abc1234, cuda backend, found in the folder given (haqa.llamacpp.binDir / --llamacpp-bin)',
  );
});
