/**
 * `npm run bench:webview`: how the session webview copes with a large session. The real bundle (dist/webview.js +
 * webview.css) runs in Chromium (Debian's, through playwright-core) with VS Code's webview API stood in by a recorder;
 * it gets a 1,000-trial state (the recorded CPU grid's 480 real measurements, repeated with new indices, through the
 * replay toolchain), then: first render, a sort by decode, 50 incremental trial updates, a scroll to the middle. Medians of
 * 7 runs.
 *   npm run bench:webview [-- --trials N] [-- --check MS]   (--check fails when a median exceeds MS)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { launchBrowser } from '../test/vscode/browser';
import { paretoFront } from '../src/core/objective';
import { verdict } from '../src/core/verdict';
import { SessionStore } from '../src/core/store';
import { runOptimize } from '../src/core/session';
import { resolveStrategy } from '../src/core/strategies';
import { ProcessRunner } from '../src/core/process/runner';
import { GRID_HW, gridSpec, replayGrid } from '../test/helpers/replay';
import type { SessionState } from '../webview/protocol';
import type { TrialRecord } from '../src/core/types';

const ROOT = path.resolve(__dirname, '..');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function realTrials(n: number): Promise<TrialRecord[]> {
  const tc = replayGrid();
  const store = SessionStore.create(fs.mkdtempSync(path.join(os.tmpdir(), 'haqa-bench-wv-')), {
    spec: gridSpec(),
    strategy: { requested: 'grid', used: 'grid' },
  });
  const s = await runOptimize({
    toolchain: tc,
    hardware: GRID_HW,
    model: tc.modelInfo(),
    strategy: resolveStrategy('grid'),
    objective: { kind: 'decode' },
    budget: 10_000,
    seed: 0,
    store,
    runner: new ProcessRunner({ mode: 'pipe' }),
  });
  const out: TrialRecord[] = [];
  for (let i = 0; out.length < n; i++) out.push({ ...s.trials[i % s.trials.length], index: out.length + 1 });
  return out;
}

async function main(): Promise<void> {
  const n = arg('--trials', 1000);
  const check = arg('--check', 0);
  for (const f of ['dist/webview.js', 'dist/webview.css'])
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: npm run build`);
  const trials = await realTrials(n);
  const o = { kind: 'decode' as const };
  const v = verdict(o, trials);
  const state: SessionState = {
    sessionId: 'bench',
    root: '/tmp',
    model: 'replay',
    hardware: 'AMD EPYC, 2 cores',
    toolchain: 'llama.cpp 80fb11a cpu',
    objective: 'maximise decode t/s',
    objectiveKind: o.kind,
    strategy: 'grid',
    status: 'running',
    review: 'auto',
    live: true,
    budget: n,
    trials: trials.slice(0, n - 50),
    best: v.best,
    tied: v.tied,
    pareto: paretoFront(o, trials).map((t) => t.index),
    knobs: replayGrid().space.knobs.map((k) => ({
      name: k.name,
      values: k.values,
      meaning: k.meaning,
      stage: k.stage,
    })),
    limits: {},
  };
  const b = await launchBrowser();
  const rows: Record<string, number[]> = { render: [], sort: [], updates: [], scroll: [] };
  try {
    for (let run = 0; run < 7; run++) {
      const page = await b.context.newPage();
      await page.setContent(
        '<!DOCTYPE html><html><body class="vscode-dark"><div id="app" data-session="%7B%7D"></div></body></html>',
      );
      // VS Code's webview API, stood in by a recorder; and tsx's helper for kept function names (__name), which the page lacks.
      await page.evaluate(
        'window.__name = (f) => f; window.acquireVsCodeApi = () => ({ postMessage() {}, getState() {}, setState() {} });',
      );
      await page.addStyleTag({ path: path.join(ROOT, 'dist/webview.css') });
      await page.addScriptTag({ path: path.join(ROOT, 'dist/webview.js') });
      const t = await page.evaluate(
        async ({ state, extra, total }) => {
          const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
          let t0 = performance.now();
          window.dispatchEvent(new MessageEvent('message', { data: { type: 'state', state } }));
          await frame();
          const render = performance.now() - t0;
          if (Number(document.querySelector('#trial-table')?.getAttribute('data-total')) !== state.trials.length)
            throw new Error('not every trial is in the table');
          t0 = performance.now();
          (document.querySelector('#trial-table th[data-col="decode"]') as HTMLElement).click();
          await frame();
          const sort = performance.now() - t0;
          t0 = performance.now();
          for (const trial of extra)
            window.dispatchEvent(
              new MessageEvent('message', {
                data: { type: 'trial', trial, best: state.best, tied: state.tied, pareto: state.pareto },
              }),
            );
          await frame();
          const updates = performance.now() - t0;
          if (Number(document.querySelector('#trial-table')?.getAttribute('data-total')) !== total)
            throw new Error('updates were lost');
          const box = document.getElementById('trials')!;
          t0 = performance.now();
          box.scrollTop = box.scrollHeight / 2;
          box.dispatchEvent(new Event('scroll'));
          await frame();
          await frame();
          const scroll = performance.now() - t0;
          const shown = Array.from(document.querySelectorAll('#trial-table tbody tr[data-index]'));
          const box2 = box.getBoundingClientRect();
          if (
            !shown.some((r) => {
              const b = r.getBoundingClientRect();
              return b.top >= box2.top && b.bottom <= box2.bottom;
            })
          )
            throw new Error('no row in view after scrolling');
          return { render, sort, updates, scroll };
        },
        { state, extra: trials.slice(n - 50), total: n },
      );
      rows.render.push(t.render);
      rows.sort.push(t.sort);
      rows.updates.push(t.updates);
      rows.scroll.push(t.scroll);
      await page.close();
    }
  } finally {
    await b.close();
  }
  const m = {
    render: median(rows.render),
    sort: median(rows.sort),
    updates: median(rows.updates),
    scroll: median(rows.scroll),
  };
  console.log(
    `webview, ${n} trials (${n - 50} in the state + 50 incremental updates), Chromium ${process.env.HAQA_CHROMIUM ?? '/usr/bin/chromium'}, ${os.cpus()[0]?.model} × ${os.cpus().length}, 7 runs:`,
  );
  console.log(
    `  first render (table + charts)   median ${m.render.toFixed(0)} ms  (runs: ${rows.render.map((x) => x.toFixed(0)).join(', ')})`,
  );
  console.log(
    `  sort by decode                  median ${m.sort.toFixed(0)} ms  (runs: ${rows.sort.map((x) => x.toFixed(0)).join(', ')})`,
  );
  console.log(
    `  50 trial updates (one frame)    median ${m.updates.toFixed(0)} ms  (runs: ${rows.updates.map((x) => x.toFixed(0)).join(', ')})`,
  );
  console.log(
    `  scroll to the middle (2 frames)  median ${m.scroll.toFixed(0)} ms  (runs: ${rows.scroll.map((x) => x.toFixed(0)).join(', ')})`,
  );
  if (check && Math.max(m.render, m.sort, m.updates, m.scroll) > check) {
    console.error(`bench:webview: a median is above ${check} ms`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
