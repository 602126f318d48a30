import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Commands } from '../../src/extension/commands/ids';

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[] };
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
