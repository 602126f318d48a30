import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Commands } from '../../src/extension/commands/ids';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
  contributes: {
    commands: { command: string }[];
    views: Record<string, { id: string }[]>;
    menus: Record<string, { command: string; when?: string }[]>;
  };
};
const contributed = pkg.contributes.commands.map((c) => c.command);

test('the Commands constant names exactly the commands package.json contributes', () => {
  const ids = Object.values(Commands);
  assert.equal(new Set(ids).size, ids.length, `an id appears twice in Commands: ${ids.join(', ')}`);
  assert.equal(new Set(contributed).size, contributed.length, 'a command is contributed twice in package.json');
  assert.deepEqual([...ids].sort(), [...contributed].sort());
});

test("each Commands key is its id's name after haqa.", () => {
  for (const [key, id] of Object.entries(Commands)) assert.equal(id, `haqa.${key}`);
});

test('the session commands are in the palette only where they can act, on context keys the extension sets', () => {
  const palette = new Map(pkg.contributes.menus.commandPalette.map((m) => [m.command, m.when]));
  assert.deepEqual(
    [
      Commands.pauseSession,
      Commands.resumeSession,
      Commands.stopSession,
      Commands.tryIt,
      Commands.acceptConfiguration,
      Commands.showAgentPrompt,
    ].map((c) => [c, palette.get(c)]),
    [
      [Commands.pauseSession, 'haqa.sessionRunning'],
      [Commands.resumeSession, 'haqa.canResume'],
      [Commands.stopSession, 'haqa.sessionLive'],
      [Commands.tryIt, 'haqa.hasMeasuredTrial'],
      [Commands.acceptConfiguration, 'haqa.hasMeasuredTrial'],
      [Commands.showAgentPrompt, 'haqa.hasSession'],
    ],
  );
  const stop = pkg.contributes.menus['view/title'].find((m) => m.command === Commands.stopSession);
  assert.match(stop?.when ?? '', /haqa\.sessionLive/, "the view title's Stop shows while idle");
  // Every haqa.* key a when clause reads is set by the extension (a typo would hide a command for good).
  const ids = new Set([
    ...contributed,
    ...Object.values(pkg.contributes.views)
      .flat()
      .map((v) => v.id),
  ]);
  const read = new Set(
    Object.values(pkg.contributes.menus)
      .flat()
      .flatMap((m) => m.when?.match(/haqa\.[A-Za-z]+/g) ?? [])
      .filter((k) => !ids.has(k)),
  );
  const src = ['context.ts', 'deployReview.ts']
    .map((f) => fs.readFileSync(path.join(__dirname, '../../src/extension', f), 'utf8'))
    .join('\n');
  for (const k of read) assert.ok(src.includes(`'${k}'`), `no code sets the context key ${k}`);
  assert.ok(read.size >= 6, [...read].join(', '));
});
