/** Debian's Chromium through playwright-core, with the flags this closed network needs. */
import * as fs from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.HAQA_CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<{ browser: Browser; context: BrowserContext; close(): Promise<void> }> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (see .ci/run), or set HAQA_CHROMIUM`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  return {
    browser,
    context,
    // Playwright gives the browser a fresh temporary profile and removes it on close.
    close: async () => {
      await browser.close().catch(() => {});
    },
  };
}
