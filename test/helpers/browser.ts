/**
 * A real browser for the console's tests: Debian's Chromium (apt-get install chromium; .ci/run
 * installs it) driven by playwright-core, headless, with a fresh profile directory removed
 * afterwards and the background traffic a test does not want switched off. No browser is
 * downloaded: where Chromium is missing, tests skip with CHROMIUM_MISSING as the reason.
 *
 * Pages run under the console's own Content-Security-Policy; axe-core is evaluated through the
 * DevTools protocol, which the page's CSP does not govern, so the checks see the page as served.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_MISSING = existsSync(CHROMIUM_PATH)
  ? undefined
  : `no Chromium at ${CHROMIUM_PATH}: install it with \`sudo apt-get install -y chromium\` (Debian) or set CHROMIUM_PATH`;

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--mute-audio',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium with a fresh --user-data-dir; close() stops every process it started and removes the profile. */
export async function launchBrowser(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<TestBrowser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'conveyor-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      // A laptop screen.
      viewport: options.viewport ?? { width: 1366, height: 768 },
      locale: 'en-GB',
      timezoneId: 'UTC',
      timeout: 60_000,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  context.setDefaultTimeout(15_000);
  let closing: Promise<void> | undefined;
  return {
    context,
    newPage: () => context.newPage(),
    close: () =>
      (closing ??= (async () => {
        await context.close().catch(() => undefined);
        await rm(profile, { recursive: true, force: true });
      })()),
  };
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

// Code run in the page is given as text: this project's TypeScript has no DOM types outside the
// console, and these few lines need none.

/** Runs axe-core's WCAG 2.x (and 2.2) A and AA rules on the page; returns the violations. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate<boolean>("'axe' in window"))) await page.evaluate<number>(`${AXE_SOURCE}\n;0`);
  return page.evaluate<AxeViolation[]>(`
    axe
      .run(document, {
        runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
        resultTypes: ['violations'],
      })
      .then((result) =>
        result.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
        })),
      )`);
}

/** data-index of the table row holding the focused element. */
export function focusedRow(page: Page): Promise<string | null | undefined> {
  return page.evaluate<string | null | undefined>(
    "document.activeElement?.closest('tr')?.getAttribute('data-index')",
  );
}

/** Whether `locator`'s element has the focus. */
export function isFocused(locator: Locator): Promise<boolean> {
  return locator.evaluate((element) => element === element.ownerDocument.activeElement);
}

/** The little of an element these tests read (there are no DOM types here). */
interface PageElement {
  getAttribute(name: string): string | null;
  scrollTo(options: { top: number }): void;
  scrollHeight: number;
}

/** The data-kind attribute of each element `locator` matches. */
export function dataKinds(locator: Locator): Promise<(string | null)[]> {
  return locator.evaluateAll((items: unknown[]) =>
    items.map((item) => (item as PageElement).getAttribute('data-kind')),
  );
}

/** Scrolls the scrollable element `locator` to its top or its end. */
export async function scrollTo(locator: Locator, where: 'top' | 'end'): Promise<void> {
  await locator.evaluate((element: unknown, to: 'top' | 'end') => {
    const scroller = element as PageElement;
    scroller.scrollTo({ top: to === 'top' ? 0 : scroller.scrollHeight });
  }, where);
}

/** The violations as lines a failing assertion can show. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `  ${n.target.join(' ')}: ${n.failureSummary ?? ''}`).join('\n')}`,
    )
    .join('\n');
}
