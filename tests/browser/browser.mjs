// Launches Debian's chromium through playwright-core and watches pages for console trouble.

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch {
  throw new Error('playwright-core is missing: run `npm ci --prefix tests/browser` from the repository root');
}

export const CHROMIUM = process.env.LIVECHAT_CHROMIUM || '/usr/bin/chromium';

/**
 * A headless chromium. Playwright gives it a fresh temporary user-data dir (removed on close);
 * each browser.newContext() is a separate profile: its own localStorage, sessionStorage, cache.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run',
    ],
  });
}

const NETWORK_ERROR = /^Failed to load resource: |net::ERR_/;

/**
 * Collects console errors and warnings and uncaught exceptions of every page it watches.
 *
 * The one thing it lets pass is the browser's own "Failed to load resource" line for a request
 * to a URL that a test has deliberately made fail, and only while that test says so
 * (expectNetworkErrors). Those lines come from chromium, not from the page, and no page can
 * silence them.
 */
export class ConsoleWatch {
  problems = [];
  excused = [];
  #expected = new Set();

  /** Watches page; await it before the page loads anything. */
  async watch(page, label) {
    // Chromium logs what a Content-Security-Policy blocks; the page's own event says it too, in
    // case a log line goes missing. Either one fails the run.
    await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline code'}`);
    }));
    page.on('console', (msg) => {
      if (msg.type() !== 'error' && msg.type() !== 'warning') return;
      const { url = '', lineNumber = 0 } = msg.location();
      const line = `${label}: console.${msg.type()}: ${msg.text()} (${url}${lineNumber ? ':' + lineNumber : ''})`;
      const expected = NETWORK_ERROR.test(msg.text())
        && [...this.#expected].some((prefix) => url.startsWith(prefix));
      (expected ? this.excused : this.problems).push(line);
    });
    page.on('pageerror', (error) => this.problems.push(`${label}: uncaught ${error.stack || error}`));
  }

  /** Runs fn while network errors for URLs starting with urlPrefix are expected. */
  async expectNetworkErrors(urlPrefix, fn) {
    this.#expected.add(urlPrefix);
    try {
      return await fn();
    } finally {
      this.#expected.delete(urlPrefix);
    }
  }
}
