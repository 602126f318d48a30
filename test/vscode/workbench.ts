/** Helpers that hide VS Code's DOM from the e2e tests. */
import type { Frame, Locator, Page } from 'playwright-core';

export async function waitForWorkbench(page: Page): Promise<void> {
  await page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
  await page.waitForSelector('.statusbar', { timeout: 60_000 });
}

/** Opens the command palette; when keys go to a focused webview's frame, from the title bar's command center. */
async function openPalette(page: Page): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await page.keyboard.press('F1');
  try {
    await input.waitFor({ state: 'visible', timeout: 3_000 });
  } catch {
    await page.locator('.command-center .action-label, .command-center').first().click();
    await input.waitFor({ state: 'visible', timeout: 10_000 });
  }
}

/**
 * Opens the command palette and runs a command by its title ("HAQA: Show Hardware Profile"). Tries again when the
 * palette closes under it (a webview or notification taking focus as it opens).
 */
export async function runCommand(page: Page, title: string): Promise<void> {
  await pickInPalette(
    page,
    `>${title}`,
    page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first(),
  );
}

/**
 * Types `text` into the palette and clicks `row` once it shows; tries again (three times in all) when the palette closes
 * under it.
 */
async function pickInPalette(page: Page, text: string, row: Locator): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    try {
      await openPalette(page);
      await input.fill(text, { timeout: 5_000 });
      await row.waitFor({ timeout: 30_000 });
      await row.click({ timeout: 5_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.keyboard.press('Escape').catch(() => {});
    }
  }
}

/**
 * Opens a workspace file by its name through the palette's file search (Quick Open), as a person would; tries again when
 * the palette closes under it (a webview taking focus), and resolves once the file's tab is the active one.
 */
export async function openFileByName(page: Page, name: string): Promise<void> {
  // The name exactly (bad.haqa.deploy.json is not haqa.deploy.json).
  const exactly = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const named = (sel: string) => page.locator(sel).filter({ has: page.locator('.label-name', { hasText: exactly }) });
  await pickInPalette(page, name, named('.quick-input-list .monaco-list-row').first());
  await named('.tabs-container .tab.active').waitFor({ timeout: 60_000 });
}

/**
 * Whether the command palette offers a command ("HAQA: Pause Session"): its title typed, the answer is read once the
 * palette lists it, or answers the query without it ("No matching commands", or only "similar commands", which it
 * lists only for a filter it ran); the palette is closed again.
 */
export async function paletteOffers(page: Page, title: string): Promise<boolean> {
  await openPalette(page);
  await page.locator('.quick-input-widget input').fill(`>${title}`, { timeout: 5_000 });
  const offered = await page.waitForFunction(
    (t) => {
      const rows = Array.from(document.querySelectorAll('.quick-input-list .monaco-list-row'));
      if (rows.some((r) => (r.textContent ?? '').includes(t))) return 'offered';
      const text = document.querySelector('.quick-input-widget')?.textContent ?? '';
      return /No matching commands|similar commands/.test(text) ? 'absent' : false;
    },
    title,
    { timeout: 30_000 },
  );
  const answer = (await offered.jsonValue()) === 'offered';
  await page.keyboard.press('Escape');
  return answer;
}

/** Clicks an activity-bar container by its title (e.g. "HAQA"). */
export async function openViewContainer(page: Page, title: string): Promise<void> {
  const item = page.locator(`.activitybar .action-item a[aria-label^="${title}"]`).first();
  await item.waitFor({ timeout: 30_000 });
  // A count badge (e.g. "1 unsaved file") sits over the icon and takes the pointer; the click is meant for the item.
  await item.click({ force: true });
}

/** Finds a tree item by its label text in the side bar. */
export function treeItem(page: Page, label: string) {
  return page.locator('.sidebar .monaco-list-row', { hasText: label }).first();
}

/** The text of the active editor (Monaco renders lines as .view-line). */
export async function activeEditorText(page: Page): Promise<string> {
  const lines = page.locator('.editor-instance .view-lines .view-line');
  await lines.first().waitFor({ timeout: 30_000 });
  return (await lines.allInnerTexts()).join('\n');
}

/** The innermost frame of a webview (VS Code nests an iframe inside an iframe). */
export async function webviewFrame(page: Page, titleContains: string): Promise<Frame> {
  const outer = await page.waitForSelector(`iframe.webview[title*="${titleContains}"], iframe.webview`, {
    timeout: 30_000,
  });
  const outerFrame = await outer.contentFrame();
  if (!outerFrame) throw new Error('webview frame not found');
  const inner = await outerFrame.waitForSelector('iframe', { timeout: 30_000 });
  const f = await inner.contentFrame();
  if (!f) throw new Error('inner webview frame not found');
  return f;
}

/** Rows of an HTML table as text cells. */
export async function readTable(frame: Frame, selector = 'table'): Promise<string[][]> {
  return frame.$$eval(`${selector} tr`, (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll('th,td')).map((c) => (c.textContent ?? '').trim())),
  );
}

type Rgba = [number, number, number, number];

/** "rgb(1, 2, 3)" / "rgba(1, 2, 3, 0.5)" as Chromium's getComputedStyle writes them. */
function parseColour(css: string): Rgba {
  const m = /^rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)$/.exec(css.trim());
  if (!m) throw new Error(`not an rgb() colour: ${css}`);
  return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
}

/** `top` drawn over the opaque `bottom`. */
const over = (top: Rgba, bottom: Rgba): Rgba => [
  top[0] * top[3] + bottom[0] * (1 - top[3]),
  top[1] * top[3] + bottom[1] * (1 - top[3]),
  top[2] * top[3] + bottom[2] * (1 - top[3]),
  1,
];

/** WCAG 2's relative luminance of an opaque sRGB colour. */
function luminance(c: Rgba): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/**
 * The WCAG contrast ratio of an element's text as rendered: its computed colour, faded by its own and its ancestors'
 * `opacity` (VS Code fades a tree item's description so), against the background it is drawn on (every ancestor's
 * background composited, innermost last, over white), all read from the page. `colour` measures that colour instead
 * of the element's own (what a canvas draws with: a chart's text and points), `nth` the nth element the selector
 * matches.
 */
export async function contrastRatio(
  frame: Frame,
  selector: string,
  opts: { colour?: string; nth?: number } = {},
): Promise<{ ratio: number; fg: string; bg: string }> {
  const read = await frame.evaluate(
    ({ sel, colour, nth }) => {
      const el = document.querySelectorAll(sel)[nth];
      if (!el) return undefined;
      const backgrounds: string[] = [];
      let opacity = 1;
      for (let n: Element | null = el; n; n = n.parentElement) {
        const st = getComputedStyle(n);
        backgrounds.push(st.backgroundColor);
        opacity *= Number(st.opacity);
      }
      let fg = getComputedStyle(el).color;
      if (colour) {
        // The colour as Chromium computes it (rgb()), whatever CSS form it was given in.
        const probe = document.createElement('span');
        probe.style.color = colour;
        document.body.append(probe);
        fg = getComputedStyle(probe).color;
        probe.remove();
      }
      return { fg, backgrounds, opacity };
    },
    { sel: selector, colour: opts.colour, nth: opts.nth ?? 0 },
  );
  if (!read) throw new Error(`no element ${selector}`);
  let bg: Rgba = [255, 255, 255, 1];
  for (const b of read.backgrounds.reverse()) bg = over(parseColour(b), bg);
  const text = parseColour(read.fg);
  const fg = over([text[0], text[1], text[2], text[3] * read.opacity], bg);
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const hex = (c: Rgba) =>
    `#${c
      .slice(0, 3)
      .map((v) => Math.round(v).toString(16).padStart(2, '0'))
      .join('')}`;
  return { ratio: (hi + 0.05) / (lo + 0.05), fg: hex(fg), bg: hex(bg) };
}

/**
 * The titles of the window's terminals, as Terminal: Switch Active Terminal lists them (quick access `term `), read
 * without showing the terminal panel (which would start a shell when there is none); the list is closed again.
 */
export async function terminalTitles(page: Page): Promise<string[]> {
  await openPalette(page);
  await page.locator('.quick-input-widget input').fill('term ', { timeout: 5_000 });
  // "Create New Terminal" is always listed, after the terminals: once it shows, the list is complete.
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Create New Terminal' })
    .first()
    .waitFor({ timeout: 30_000 });
  const rows = await page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
  await page.keyboard.press('Escape');
  return rows.filter((r) => !/Create New Terminal/.test(r));
}
