/** Helpers that hide VS Code's DOM from the e2e tests. */
import type { Frame, Page } from 'playwright-core';

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
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    try {
      await openPalette(page);
      await input.fill(`>${title}`, { timeout: 5_000 });
      const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
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
