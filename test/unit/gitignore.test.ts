import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SessionStore } from '../../src/core/store';
import { gridSpec } from '../helpers/replay';
import { tmpDir } from '../helpers/fixtures';

const git = (cwd: string, ...args: string[]) => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};
const meta = { spec: gridSpec(), strategy: { requested: 'grid', used: 'grid' } };

test('.haqa/ keeps itself out of git: real git sees none of its files, and the workspace .gitignore is left alone', () => {
  const ws = tmpDir();
  git(ws, 'init', '-q');
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules/\n');
  const store = SessionStore.create(path.join(ws, '.haqa'), meta);
  store.appendTrial({ type: 'note', text: 'x' } as never);
  assert.equal(
    fs
      .readFileSync(path.join(ws, '.haqa', '.gitignore'), 'utf8')
      .split('\n')
      .at(-2),
    '*',
  );
  assert.equal(git(ws, 'status', '--porcelain', '--untracked-files=all'), '?? .gitignore\n');
  assert.equal(fs.readFileSync(path.join(ws, '.gitignore'), 'utf8'), 'node_modules/\n');
  // Deleted by the user (to commit sessions): not written again while sessions exist.
  fs.rmSync(path.join(ws, '.haqa', '.gitignore'));
  SessionStore.create(path.join(ws, '.haqa'), meta);
  assert.equal(fs.existsSync(path.join(ws, '.haqa', '.gitignore')), false);
  assert.match(git(ws, 'status', '--porcelain', '--untracked-files=all'), /\?\? \.haqa\/sessions\//);
});

test('a folder given by --session-dir is not made to ignore itself', () => {
  const dir = tmpDir();
  SessionStore.create(dir, meta);
  assert.equal(fs.existsSync(path.join(dir, '.gitignore')), false);
});
