// Browser tests of the chat page (www/index.html) against real livechat services.
//
//   LIVECHAT_BINARY=build/release/livechat node --test tests/browser/
//
// Writes screenshot.png and screenshot-dark.png to $LIVECHAT_SCREENSHOT_DIR (ctest: the build
// tree), or to docs/, where the README shows them, when that is not set.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, beforeEach, describe, test } from 'node:test';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ConsoleWatch, launchBrowser } from './browser.mjs';
import {
  history, livechatBinary, mintToken, postMessage, startMessage, startNotify, startServe, stopAll,
} from './services.mjs';
import { closeAll, serveFile, startRecorder } from './servers.mjs';

const DOCS = process.env.LIVECHAT_SCREENSHOT_DIR
  ? resolve(process.env.LIVECHAT_SCREENSHOT_DIR) + '/'
  : fileURLToPath(new URL('../../docs/', import.meta.url));
const WAIT_MS = 10_000;        // every single wait on the page
const TEST = { timeout: 45_000 };
const DESKTOP = { width: 900, height: 650 };

const consoleWatch = new ConsoleWatch();
let browser;
const contexts = new Set();

before(async () => {
  livechatBinary();  // fails the run at once, with what to do, when LIVECHAT_BINARY is missing
  browser = await launchBrowser();
}, { timeout: 40_000 });

after(async () => {
  await Promise.allSettled([...contexts].map((context) => context.close()));
  await browser?.close();
  await Promise.all([stopAll(), closeAll()]);
}, { timeout: 30_000 });

// ---- Page helpers

/**
 * Opens the chat at baseUrl in room `room` in a fresh profile, as `name`, and waits until it is
 * live. The page is closed when test `t` ends, pass or fail (or with the rest, when `t` is null).
 */
async function openChat(t, baseUrl, room, { name, label = name ?? 'page', viewport = DESKTOP, search = '', ...options } = {}) {
  const context = await browser.newContext({ viewport, locale: 'en-US', ...options });
  contexts.add(context);
  t?.after(() => closeContext(context));
  context.setDefaultTimeout(WAIT_MS);
  if (name) {
    // A returning user: the name is already saved. (Not on about:blank, which has no storage.)
    await context.addInitScript((n) => {
      if (location.protocol.startsWith('http')) localStorage.setItem('livechat.name', JSON.stringify(n));
    }, name);
  }
  const page = await context.newPage();
  await consoleWatch.watch(page, label);
  await page.goto(`${baseUrl}/${search}#${room}`);
  await waitForState(page, 'connected');
  return page;
}

/** A fresh profile's page, closed when test `t` ends; its dialogs are answered by `answer`. */
async function newPage(t, label, answer = () => false) {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
  contexts.add(context);
  t.after(() => closeContext(context));
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  await consoleWatch.watch(page, label);
  page.dialogs = [];
  page.on('dialog', (dialog) => {
    page.dialogs.push(dialog.message());
    return answer() ? dialog.accept() : dialog.dismiss();
  });
  return page;
}

/** `?message=URL&notify=URL`, both pointing at `url`, or at the two given. */
function pointedAt(message, notify = message) {
  return `?${new URLSearchParams({ message, notify })}`;
}

/** The parsed Content-Security-Policy of an answer: { directive: [sources] }. */
function policyOf(res) {
  const header = res.headers.get('content-security-policy');
  assert.ok(header, 'no Content-Security-Policy header');
  return Object.fromEntries(header.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]));
}

/** Ann's and Bob's pages on the same room, side by side. */
function annAndBob(t, baseUrl, room) {
  return Promise.all(['ann', 'bob'].map((name) => openChat(t, baseUrl, room, { name })));
}

async function closeContext(context) {
  contexts.delete(context);
  await context.close();
}

function waitForState(page, state) {
  return page.waitForSelector(`body[data-state="${state}"]`, { state: 'attached' });
}

/** The stored messages the page shows, in order. */
function shown(page) {
  return page.$$eval('#log .message[data-id]', (nodes) => nodes.map((n) => ({
    id: n.dataset.id,
    user: n.querySelector('.user').textContent,
    text: n.querySelector('.text').textContent,
    own: n.classList.contains('own'),
  })));
}

/** Waits until the page shows a stored message whose text is exactly `text`; returns it. */
async function waitForMessage(page, text) {
  await page.waitForFunction(
    (t) => [...document.querySelectorAll('#log .message[data-id] .text')].some((n) => n.textContent === t),
    text, { timeout: WAIT_MS });
  return (await shown(page)).find((m) => m.text === text);
}

/** Types `text` into the composer like a person (Shift+Enter for each new line) and presses Enter. */
async function typeAndSend(page, text) {
  await page.focus('#composer');
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (i > 0) await page.keyboard.press('Shift+Enter');
    if (line) await page.keyboard.type(line);
  }
  await page.keyboard.press('Enter');
  return waitForMessage(page, text);
}

async function post(baseUrl, message, options) {
  const { status, body } = await postMessage(baseUrl, message, options);
  assert.equal(status, 201, `POST /messages answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

// ---- Against `livechat serve` (both services in one process)

describe('livechat serve', () => {
  let url, urls;
  before(async () => { ({ urls } = await startServe()); url = urls.message; }, { timeout: 20_000 });

  test('opened from file://, it finds the services through ?message= and &notify=', TEST, async (t) => {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    contexts.add(context);
    t.after(() => closeContext(context));
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    await consoleWatch.watch(page, 'file');
    const file = new URL('../../www/index.html', import.meta.url);
    file.search = `?message=${encodeURIComponent(urls.message)}&notify=${encodeURIComponent(urls.notification)}`;
    file.hash = '#fromfile';
    await page.goto(file.href);
    await waitForState(page, 'connected');
    await post(url, { content: 'to a page opened from a file', room: 'fromfile' });
    await waitForMessage(page, 'to a page opened from a file');
    await typeAndSend(page, 'sent from a page opened from a file');
    const stored = await history(url, 'fromfile');
    assert.deepEqual(stored.map((m) => m.content),
      ['to a page opened from a file', 'sent from a page opened from a file']);
  });

  test('GET / answers with a strict Content-Security-Policy and X-Frame-Options: DENY', TEST, async () => {
    const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const policy = policyOf(res);
    assert.deepEqual(policy['default-src'], ["'none'"]);
    assert.deepEqual(policy['connect-src'], ["'self'", urls.notification, urls.notification.replace(/^http:/, 'https:')]);
    for (const name of ['frame-ancestors', 'base-uri', 'form-action', 'object-src']) {
      assert.deepEqual(policy[name], ["'none'"], name);
    }
    // The page's two inline scripts (its configuration and its code) and its style, by their hashes;
    // every other test runs the page under this policy, so a wrong hash fails them too.
    const hash = /^'sha256-[A-Za-z0-9+/]{43}='$/;
    assert.equal(policy['script-src'].length, 2, policy['script-src'].join(' '));
    assert.ok(policy['script-src'].every((source) => hash.test(source)), policy['script-src'].join(' '));
    assert.equal(policy['style-src'].length, 1);
    assert.match(policy['style-src'][0], hash);
    // Only the page: the JSON answers need none of it.
    assert.equal((await fetch(`${url}/health`)).headers.get('content-security-policy'), null);
  });

  test('a link that names other services gets this deployment\'s own, says so, and reaches nothing else', TEST, async (t) => {
    const stranger = await startRecorder();
    const page = await openChat(t, url, 'linked', { name: 'ann', search: pointedAt(stranger.url) });
    const notice = await page.textContent('#notice-text');
    assert.ok(notice.includes(`only the chat services of ${url}; the ?message= and ?notify= in its address are ignored`), notice);
    await typeAndSend(page, 'through my own services');
    await post(url, { room: 'linked', user: 'bob', content: 'over the stream' });
    await waitForMessage(page, 'over the stream');
    assert.deepEqual((await history(url, 'linked')).map((m) => [m.user, m.content]),
      [['ann', 'through my own services'], ['bob', 'over the stream']]);
    assert.deepEqual(stranger.requests, []);
  });

  describe('two people chatting', () => {
    const room = 'lobby';
    let ann, bob;
    after(() => Promise.all([ann, bob].map((page) => page && closeContext(page.context()))));

    test('two pages chat both ways, own messages marked own', TEST, async () => {
      // Ann and Bob stay for the next test.
      [ann, bob] = await annAndBob(null, url, room);

      const fromAnn = await typeAndSend(ann, 'Hi Bob, this is Ann');
      const atBob = await waitForMessage(bob, 'Hi Bob, this is Ann');
      assert.deepEqual(fromAnn, { id: atBob.id, user: 'ann', text: 'Hi Bob, this is Ann', own: true });
      assert.equal(atBob.own, false);

      const fromBob = await typeAndSend(bob, 'Hello Ann!');
      const atAnn = await waitForMessage(ann, 'Hello Ann!');
      assert.deepEqual(fromBob, { id: atAnn.id, user: 'bob', text: 'Hello Ann!', own: true });
      assert.equal(atAnn.own, false);

      for (const page of [ann, bob]) {
        assert.deepEqual((await shown(page)).map((m) => m.text), ['Hi Bob, this is Ann', 'Hello Ann!']);
        assert.equal(await page.locator('#log .pending').count(), 0);
      }
    });

    test('a page opened later shows the history', TEST, async (t) => {
      const stored = await history(url, room);
      assert.deepEqual(stored.map((m) => m.content), ['Hi Bob, this is Ann', 'Hello Ann!']);

      const cy = await openChat(t, url, room, { name: 'cy' });
      await waitForMessage(cy, 'Hello Ann!');
      assert.deepEqual(await shown(cy), stored.map((m) => ({ id: m.id, user: m.user, text: m.content, own: false })));
      assert.equal(await cy.locator('#empty').isVisible(), false);

      // ...and is live too: Ann's next message reaches it.
      await typeAndSend(ann, 'Welcome, Cy');
      await waitForMessage(cy, 'Welcome, Cy');
    });
  });

  test('HTML in a message is shown literally and runs nothing', TEST, async (t) => {
    const room = 'html';
    const [ann, bob] = await annAndBob(t, url, room);
    const typed = [
      '<img src=x onerror="window.__pwned=1">',
      '<script>window.__pwned=1</script>',
      '<b>bold?</b> &amp; &lt;i&gt; "quoted" \'single\'',
    ];
    for (const text of typed) await typeAndSend(ann, text);
    const posted = { user: '<img src=y onerror="window.__pwned=2">', content: '<svg onload="window.__pwned=3"></svg>' };
    await post(url, { ...posted, room });

    const cy = await openChat(t, url, room, { name: 'cy' });  // the same, through the history
    const expected = [...typed, posted.content];
    for (const page of [ann, bob, cy]) {
      await waitForMessage(page, posted.content);
      const messages = await shown(page);
      assert.deepEqual(messages.map((m) => m.text), expected);
      assert.equal(messages.at(-1).user, posted.user);
      assert.equal(await page.locator('#log img, #log script, #log svg, #log b, #log i').count(), 0);
    }
    for (const page of [ann, bob, cy]) assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  test('Enter sends, Shift+Enter makes a new line, the composer clears and keeps focus', TEST, async (t) => {
    const room = 'keys';
    const [ann, bob] = await annAndBob(t, url, room);
    const composer = ann.locator('#composer');

    await composer.focus();
    await ann.keyboard.type('first line');
    const oneLineHeight = (await composer.boundingBox()).height;
    await ann.keyboard.press('Shift+Enter');
    await ann.keyboard.type('second line');
    assert.equal(await composer.inputValue(), 'first line\nsecond line');
    assert.ok((await composer.boundingBox()).height > oneLineHeight, 'the composer grows with a second line');
    assert.equal(await ann.locator('#log .message').count(), 0, 'Shift+Enter sent nothing');

    await ann.keyboard.press('Enter');
    const sent = await waitForMessage(ann, 'first line\nsecond line');
    assert.equal(sent.own, true);
    assert.equal(await composer.inputValue(), '');
    assert.equal(await ann.evaluate(() => document.activeElement?.id), 'composer');
    await waitForMessage(bob, 'first line\nsecond line');

    // Enter on nothing but white space sends nothing; the Send button works like Enter.
    await ann.keyboard.type('   ');
    await ann.keyboard.press('Enter');
    await composer.fill('sent with the button');
    await ann.click('#send');
    await waitForMessage(ann, 'sent with the button');
    assert.equal(await composer.inputValue(), '');
    assert.equal(await ann.evaluate(() => document.activeElement?.id), 'composer');
    await waitForMessage(bob, 'sent with the button');
    assert.deepEqual((await shown(bob)).map((m) => m.text), ['first line\nsecond line', 'sent with the button']);
  });

  test('a message over 64 KiB is shown as failed, with the reason, and can be discarded', TEST, async (t) => {
    const room = 'big';
    const ann = await openChat(t, url, room, { name: 'ann' });
    const failed = ann.locator('#log .message.own.pending[data-status="failed"]');

    await consoleWatch.expectNetworkErrors(`${url}/messages`, async () => {
      await ann.locator('#composer').fill('x'.repeat(70 * 1024));
      await ann.locator('#composer').press('Enter');
      await failed.waitFor();
    });
    assert.match(await failed.locator('.error').textContent(), /longer than 65536 bytes/);
    assert.equal(await ann.locator('#composer').inputValue(), '');
    await failed.getByRole('button', { name: 'Discard this message' }).click();
    await failed.waitFor({ state: 'detached' });
    assert.equal(await ann.locator('#log .message').count(), 0);
    assert.equal(await ann.evaluate(() => document.activeElement?.id), 'composer');
    assert.deepEqual(await history(url, room), []);
  });

  test('a phone-width viewport renders without horizontal scrolling', TEST, async (t) => {
    const room = 'phone';
    const longName = 'a-very-long-name-'.repeat(7).slice(0, 120);
    await post(url, { room, user: longName, content: 'A name that long still fits' });
    await post(url, { room, user: 'bob', content: `an unbroken word: ${'W'.repeat(300)}` });
    await post(url, { room, user: 'bob', content: `a long link: https://example.com/${'path/'.repeat(40)}` });
    await post(url, { room, user: 'bob', content: 'a\nfew\nshort\nlines' });

    const phone = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
    const ann = await openChat(t, url, 'elsewhere', { name: 'ann', label: 'phone', ...phone });
    await ann.evaluate((r) => { location.hash = r; }, room);  // two rooms: the recent-rooms strip shows
    await waitForMessage(ann, 'a\nfew\nshort\nlines');
    await typeAndSend(ann, `mine, also long: ${'M'.repeat(200)}`);

    const layout = await ann.evaluate(() => {
      const width = document.documentElement.clientWidth;
      // Elements sticking out to the right, other than inside a box that scrolls or clips sideways
      // (the recent-rooms strip scrolls on purpose; the message list is checked on its own below).
      const clipped = (n) => {
        for (let p = n.parentElement; p && p !== document.body; p = p.parentElement) {
          if (getComputedStyle(p).overflowX !== 'visible') return true;
        }
        return false;
      };
      const outside = [...document.body.querySelectorAll('*')]
        .filter((n) => n.getBoundingClientRect().right > width + 0.5 && !clipped(n))
        .map((n) => n.id || n.className || n.tagName);
      const log = document.getElementById('log');
      window.scrollTo(200, 0);
      return {
        width,
        pageWidth: document.scrollingElement.scrollWidth,
        scrollX: window.scrollX,
        logOverflow: log.scrollWidth - log.clientWidth,
        outside,
      };
    });
    assert.equal(layout.width, 360);
    assert.ok(layout.pageWidth <= layout.width, `page is ${layout.pageWidth}px wide in a 360px viewport`);
    assert.equal(layout.scrollX, 0);
    assert.equal(layout.logOverflow, 0, 'the message list scrolls sideways');
    assert.deepEqual(layout.outside, []);
    assert.equal(await ann.locator('#recent').isVisible(), true);
  });

  test('edits, reactions and deletes show live on the other page and after a reload', TEST, async (t) => {
    const room = 'events';
    const [alice, bob] = await Promise.all(['alice', 'bob'].map((name) => openChat(t, url, room, { name })));
    const keys = [];  // the Idempotency-Key of every POST /messages from Alice's page
    alice.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/messages') {
        keys.push(request.headers()['idempotency-key']);
      }
    });
    const at = (page, id) => page.locator(`#log .message[data-id="${id}"]`);
    const reactions = (page, id) => at(page, id).locator('.reactions button')
      .evaluateAll((chips) => chips.map((c) => [c.textContent, c.getAttribute('aria-pressed')]));
    const waitForReactions = (page, id, texts) => page.waitForFunction(([sel, want]) =>
      JSON.stringify([...document.querySelectorAll(sel)].map((c) => c.textContent)) === want,
    [`#log .message[data-id="${id}"] .reactions button`, JSON.stringify(texts)], { timeout: WAIT_MS });

    const kept = await typeAndSend(alice, 'first draft');
    const doomed = await typeAndSend(alice, 'this one goes away');
    await waitForMessage(bob, 'this one goes away');
    assert.equal(keys.length, 2);
    for (const key of keys) assert.match(key ?? '', /^[\x21-\x7e]{1,128}$/);
    assert.notEqual(keys[0], keys[1], 'a fresh key for every message');

    // Only the author is offered Edit and Delete; everyone may react.
    assert.equal(await at(alice, kept.id).getByRole('button', { name: 'Edit this message' }).count(), 1);
    assert.equal(await at(bob, kept.id).getByRole('button', { name: 'Edit this message' }).count(), 0);
    assert.equal(await at(bob, kept.id).getByRole('button', { name: 'Delete this message' }).count(), 0);
    assert.equal(await at(bob, kept.id).getByRole('button', { name: 'React with 👍' }).count(), 1);

    // Alice edits (Enter saves); Bob sees the new text, marked edited.
    await at(alice, kept.id).getByRole('button', { name: 'Edit this message' }).click();
    const area = at(alice, kept.id).getByRole('textbox', { name: 'Edit your message' });
    assert.equal(await area.inputValue(), 'first draft');
    await area.fill('second draft');
    await area.press('Enter');
    await waitForMessage(alice, 'second draft');
    await waitForMessage(bob, 'second draft');
    await at(bob, kept.id).locator('.edited').waitFor();
    assert.equal(await at(alice, kept.id).locator('.edited').isVisible(), true);
    assert.equal(await alice.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'Edit this message');

    // Alice reacts twice, Bob joins one of them, Alice takes the other back.
    await at(alice, kept.id).getByRole('button', { name: 'React with 👍' }).click();
    await at(alice, kept.id).getByRole('button', { name: 'React with 🎉' }).click();
    await waitForReactions(bob, kept.id, ['👍 1', '🎉 1']);
    assert.deepEqual(await reactions(bob, kept.id), [['👍 1', 'false'], ['🎉 1', 'false']]);
    await at(bob, kept.id).getByRole('button', { name: '👍 from alice: add yours' }).click();
    await waitForReactions(alice, kept.id, ['👍 2', '🎉 1']);
    await at(alice, kept.id).getByRole('button', { name: 'Remove your 🎉 reaction' }).click();
    await waitForReactions(bob, kept.id, ['👍 2']);
    await waitForReactions(alice, kept.id, ['👍 2']);
    assert.deepEqual(await reactions(bob, kept.id), [['👍 2', 'true']]);
    assert.equal(await at(bob, kept.id).locator('.reactions button').getAttribute('title'), 'alice, bob');

    // Alice deletes, once she has said yes; it goes from both pages.
    await at(alice, doomed.id).getByRole('button', { name: 'Delete this message' }).click();
    await at(alice, doomed.id).getByRole('button', { name: 'Yes, delete this message' }).click();
    await at(alice, doomed.id).waitFor({ state: 'detached' });
    await at(bob, doomed.id).waitFor({ state: 'detached' });

    // An edit the service refuses shows its reason on the message; Escape leaves it as it was.
    await consoleWatch.expectNetworkErrors(`${url}/messages/`, async () => {
      await at(alice, kept.id).getByRole('button', { name: 'Edit this message' }).click();
      await area.fill('x'.repeat(70 * 1024));
      await area.press('Enter');
      await at(alice, kept.id).locator('.error').waitFor();
    });
    assert.match(await at(alice, kept.id).locator('.error').textContent(), /longer than 65536 bytes/);
    await area.press('Escape');
    await at(alice, kept.id).locator('.error').waitFor({ state: 'detached' });
    assert.equal((await waitForMessage(alice, 'second draft')).id, kept.id);

    // A post whose answer is lost on the way back is retried with the same key: stored once.
    const text = 'its first answer was lost';
    let lost = false;
    await alice.route(`${url}/messages`, async (route) => {
      if (route.request().method() !== 'POST' || lost) return route.fallback();
      lost = true;
      await route.fetch();   // the service stores it...
      await route.abort();   // ...but the page never hears so
    });
    const failed = alice.locator('#log .message.own.pending[data-status="failed"]');
    await consoleWatch.expectNetworkErrors(`${url}/messages`, async () => {
      await alice.locator('#composer').fill(text);
      await alice.locator('#composer').press('Enter');
      await failed.waitFor();
    });
    await alice.unroute(`${url}/messages`);
    await failed.getByRole('button', { name: 'Retry sending this message' }).click();
    await failed.waitFor({ state: 'detached' });
    assert.equal(keys.length, 4);
    assert.equal(keys[3], keys[2], 'the retry sends the key of the first try');
    assert.notEqual(keys[2], keys[1]);
    const last = await waitForMessage(bob, text);

    // Changes after the newest message: a reload's history has them, and the stream replays them
    // after that message, which must not count twice.
    await at(bob, kept.id).getByRole('button', { name: '👍 from alice, bob: remove your reaction' }).click();
    await waitForReactions(alice, kept.id, ['👍 1']);
    await at(alice, last.id).getByRole('button', { name: 'React with 😂' }).click();
    await waitForReactions(bob, last.id, ['😂 1']);
    const expected = [['second draft', true], [text, false]];
    const state = (page) => page.$$eval('#log .message[data-id]', (nodes) => nodes.map((n) => [
      n.querySelector('.text').textContent, !n.querySelector('.edited').hidden]));
    assert.deepEqual(await state(alice), expected);
    assert.deepEqual(await state(bob), expected);

    await bob.reload();
    await waitForState(bob, 'connected');
    await post(url, { room, user: 'carol', content: 'after the reload' });
    await waitForMessage(bob, 'after the reload');  // by now the replay has come, in order
    assert.deepEqual(await state(bob), [...expected, ['after the reload', false]]);
    assert.deepEqual(await reactions(bob, kept.id), [['👍 1', 'false']]);
    assert.deepEqual(await reactions(bob, last.id), [['😂 1', 'false']]);
    const stored = await history(url, room);
    assert.deepEqual(stored.map((m) => [m.content, !!m.edited]), [...expected, ['after the reload', false]]);
    assert.deepEqual(stored.map((m) => m.reactions ?? {}), [{ '👍': ['alice'] }, { '😂': ['alice'] }, {}]);
  });

  test('screenshots of a conversation, light and dark', TEST, async (t) => {
    const room = 'general';
    mkdirSync(DOCS, { recursive: true });
    const ann = await openChat(t, url, room, { name: 'ann' });
    await post(url, { room, user: 'bob', content: 'Morning! Is the release still on for 10:00?' });
    await waitForMessage(ann, 'Morning! Is the release still on for 10:00?');
    await typeAndSend(ann, 'Yes. Staging looks good:\n- all checks green\n- the migration took 40 s');
    await post(url, { room, user: 'bob', content: 'Great, I will watch the dashboards while it rolls out.' });
    await waitForMessage(ann, 'Great, I will watch the dashboards while it rolls out.');
    await typeAndSend(ann, 'Thanks, starting now.');

    const screenshot = async (page, file) => {
      await page.evaluate(() => document.fonts.ready);
      await page.screenshot({ path: DOCS + file });
    };
    await screenshot(ann, 'screenshot.png');
    const dark = await openChat(t, url, room, { name: 'ann', label: 'dark', colorScheme: 'dark' });
    await waitForMessage(dark, 'Thanks, starting now.');
    await dark.focus('#composer');
    await screenshot(dark, 'screenshot-dark.png');
  });
});

// ---- Against split services: serve-notify and serve-message, each restarted on the port it had

describe('split services', () => {
  let notifyPort, messagePort, notify, message, url, notifyUrl;
  before(async () => {
    notify = await startNotify();
    notifyUrl = notify.urls.notification;
    notifyPort = Number(new URL(notifyUrl).port);
    message = await startMessage({ notifyUrl });
    url = message.urls.message;
    messagePort = Number(new URL(url).port);
  }, { timeout: 20_000 });
  // Each test starts with both up, even when the one before failed in the middle of an outage.
  beforeEach(async () => {
    if (!notify.running) notify = await startNotify({ port: notifyPort });
    if (!message.running) message = await startMessage({ port: messagePort, notifyUrl });
  }, { timeout: 20_000 });

  test('the page reconnects and catches up after the notification service restarts', TEST, async (t) => {
    const room = 'restart';
    const ann = await openChat(t, url, room, { name: 'ann' });
    await ann.evaluate(() => {
      window.__states = [];
      new MutationObserver(() => window.__states.push(document.body.dataset.state))
        .observe(document.body, { attributes: true, attributeFilter: ['data-state'] });
    });
    const expected = ['before the restart, from bob', 'before the restart, from ann'];
    await post(url, { room, user: 'bob', content: expected[0] });
    await waitForMessage(ann, expected[0]);
    const lastBefore = (await typeAndSend(ann, expected[1])).id;
    const catchUps = [];
    ann.on('request', (request) => {
      const { origin, pathname, searchParams } = new URL(request.url());
      if (origin === url && pathname === '/messages' && searchParams.has('after')) {
        catchUps.push(searchParams.get('after'));
      }
    });

    await consoleWatch.expectNetworkErrors(notifyUrl, async () => {
      const stopped = await notify.stop();
      assert.deepEqual(stopped, { code: 0, signal: null }, `serve-notify did not exit cleanly:\n${notify.log}`);
      await ann.waitForFunction(() => document.body.dataset.state !== 'connected', null, { timeout: WAIT_MS });

      for (let i = 1; i <= 3; i++) {
        const content = `while the notification service was down, #${i}`;
        await post(url, { room, user: 'bob', content });
        expected.push(content);
      }
      assert.equal((await shown(ann)).length, 2, 'nothing can arrive while the stream is down');

      notify = await startNotify({ port: notifyPort });
      await waitForState(ann, 'connected');
      await waitForMessage(ann, expected.at(-1));
    });

    // One more, live, after everything queued: by the time it shows, any repeat would have too.
    expected.push('after the restart');
    await post(url, { room, user: 'bob', content: expected.at(-1) });
    await waitForMessage(ann, expected.at(-1));

    const messages = await shown(ann);
    assert.deepEqual(messages.map((m) => m.text), expected, 'every message once, in order');
    assert.deepEqual(messages.map((m) => m.id), (await history(url, room)).map((m) => m.id));
    assert.ok(catchUps.includes(lastBefore), `fetched the gap after ${lastBefore}; fetched after: ${catchUps}`);
    const states = await ann.evaluate(() => window.__states);
    assert.ok(states.some((s) => s === 'reconnecting' || s === 'connecting'), `states: ${states}`);
    assert.equal(states.at(-1), 'connected');
  });

  test('a send that fails shows Retry, and Retry works once the service is back', TEST, async (t) => {
    const room = 'retry';
    const [ann, bob] = await annAndBob(t, url, room);
    const text = 'sent while the message service was down';
    const failed = ann.locator('#log .message.own.pending[data-status="failed"]');

    await consoleWatch.expectNetworkErrors(`${url}/messages`, async () => {
      await message.stop();
      await ann.locator('#composer').fill(text);
      await ann.locator('#composer').press('Enter');
      await failed.waitFor();
    });
    assert.equal(await failed.locator('.text').textContent(), text);
    assert.match(await failed.locator('.error').textContent(), /could not reach the server/i);
    assert.equal(await ann.locator('#composer').inputValue(), '');

    message = await startMessage({ port: messagePort, notifyUrl });
    await failed.getByRole('button', { name: 'Retry sending this message' }).click();
    const sent = await waitForMessage(ann, text);
    assert.equal(sent.own, true);
    assert.equal(await ann.locator('#log .pending').count(), 0);
    assert.deepEqual(await waitForMessage(bob, text), { ...sent, own: false });
    assert.deepEqual((await history(url, room)).map((m) => m.id), [sent.id]);
  });
});

describe('with --auth-secret', () => {
  const SECRET = 'browser test secret';
  let serve;
  before(async () => { serve = await startServe(['--auth-secret', SECRET]); });

  test('the page asks for a token, then chats as the token\'s user', TEST, async (t) => {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-US' });
    contexts.add(context);
    t.after(() => closeContext(context));
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    await consoleWatch.watch(page, 'signed-out');
    await page.goto(`${serve.urls.message}/#auth`);
    await page.waitForSelector('body[data-auth="needed"]', { state: 'attached' });
    assert.equal(await page.isVisible('#token-form'), true);
    assert.equal(await page.isDisabled('#composer'), true);
    assert.equal(await page.textContent('#state-text'), 'sign in to chat');

    await page.fill('#token', 'not a token');
    await page.click('#token-form button');
    assert.match(await page.textContent('#token-hint'), /not a livechat token/);

    await page.fill('#token', mintToken('carol', SECRET));
    await page.click('#token-form button');
    await waitForState(page, 'connected');
    assert.equal(await page.isVisible('#token-form'), false);
    assert.equal(await page.inputValue('#name'), 'carol');
    assert.equal(await page.getAttribute('#name', 'readonly'), '');
    const sent = await typeAndSend(page, 'signed in');
    assert.equal(sent.user, 'carol');
    const stored = await history(serve.urls.message, 'auth', { token: mintToken('x', SECRET) });
    assert.deepEqual(stored.map((m) => [m.user, m.content]), [['carol', 'signed in']]);

    // A token the services refuse (here: signed with another secret) sends the page back to
    // the sign-in form, after a reload too.
    await page.evaluate(() => localStorage.setItem('livechat.token', JSON.stringify(
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjYXJvbCIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJl')));
    await consoleWatch.expectNetworkErrors(`${serve.urls.message}/messages`, async () => {
      await page.reload();
      await page.waitForSelector('body[data-auth="needed"]', { state: 'attached' });
    });
    assert.match(await page.textContent('#token-hint'), /refused/);
  });
});

describe('with --auth-secret, pointed elsewhere', () => {
  const SECRET = 'another browser test secret';
  let serve;
  before(async () => { serve = await startServe(['--auth-secret', SECRET]); });

  test('a link naming another server sends it nothing, least of all the token; the page chats at home', TEST, async (t) => {
    const stranger = await startRecorder();
    const page = await newPage(t, 'linked');
    await page.goto(`${serve.urls.message}/${pointedAt(stranger.url)}#leak`);
    await page.waitForSelector('body[data-auth="needed"]', { state: 'attached' });
    const token = mintToken('dave', SECRET);
    await page.fill('#token', token);
    await page.click('#token-form button');
    await Promise.race([waitForState(page, 'connected'), stranger.reached]);
    const leaks = stranger.requests.filter((r) => r.authorization.includes(token) || r.url.includes(token));
    assert.deepEqual(leaks, [], 'the token reached the other server');
    assert.deepEqual(stranger.requests, [], 'the other server was asked something');

    await typeAndSend(page, 'only to my own services');
    await post(serve.urls.message, { room: 'leak', content: 'from erin' }, { token: mintToken('erin', SECRET) });
    await waitForMessage(page, 'from erin');
    const stored = await history(serve.urls.message, 'leak', { token });
    assert.deepEqual(stored.map((m) => [m.user, m.content]), [['dave', 'only to my own services'], ['erin', 'from erin']]);
    assert.deepEqual(page.dialogs, [], 'nothing to ask: the page only talks to its own services');
    assert.deepEqual(stranger.requests, []);
  });

  test('opened from another server, the page asks before the token goes to the services it names', TEST, async (t) => {
    const site = await serveFile(fileURLToPath(new URL('../../www/index.html', import.meta.url)));
    let agree = false;
    const page = await newPage(t, 'elsewhere', () => agree);
    const carried = [];  // requests that carried a token
    page.on('request', (request) => {
      if (request.headers().authorization || new URL(request.url()).searchParams.has('token')) carried.push(request.url());
    });
    const token = mintToken('fay', SECRET);
    await page.goto(`${site}/${pointedAt(serve.urls.message, serve.urls.notification)}#elsewhere`);
    await page.waitForSelector('body[data-auth="needed"]', { state: 'attached' });
    await page.fill('#token', token);
    await page.click('#token-form button');

    // Refused: nothing carries the token, and the page says where it did not go.
    await page.waitForFunction(() => document.getElementById('state-text').textContent === 'not connected');
    assert.equal(page.dialogs.length, 1);
    assert.ok(page.dialogs[0].startsWith(`Send your livechat token to ${serve.urls.message}?`), page.dialogs[0]);
    assert.ok(page.dialogs[0].includes(`This page (${site})`), page.dialogs[0]);
    const notice = await page.textContent('#notice-text');
    assert.ok(notice.includes(`Your token was not sent to ${serve.urls.message}`), notice);
    assert.equal(await page.textContent('#empty'), 'Not connected');
    await page.locator('#composer').fill('not to be sent');
    await page.locator('#composer').press('Enter');
    const failed = page.locator('#log .message.own.pending[data-status="failed"]');
    const why = await failed.locator('.error').textContent();
    assert.ok(why.includes(`your token stays away from ${serve.urls.message}`), why);
    assert.deepEqual(carried, []);
    assert.deepEqual(page.dialogs.length, 1, 'asked once per origin');

    // Agreed, after a reload: asked for each of the two origins, then it chats.
    agree = true;
    await page.reload();
    await waitForState(page, 'connected');
    assert.deepEqual(page.dialogs.slice(1).map((d) => d.match(/^Send your livechat token to (\S+)\?/)[1]),
      [serve.urls.message, serve.urls.notification]);
    const sent = await typeAndSend(page, 'sent once I agreed');
    assert.equal(sent.user, 'fay');
    assert.ok(carried.length > 0);
    assert.deepEqual((await history(serve.urls.message, 'elsewhere', { token })).map((m) => m.content), ['sent once I agreed']);
  });
});

describe('over HTTPS (--tls-cert)', () => {
  let serve;
  let dir;
  before(async () => {
    // A throwaway self-signed certificate; the browser is told to take it (ignoreHTTPSErrors).
    dir = mkdtempSync(join(tmpdir(), 'livechat-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    serve = await startServe(['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
      { scheme: 'https' });
  }, { timeout: 20_000 });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the page comes over HTTPS and two people chat over encrypted streams', TEST, async (t) => {
    assert.match(serve.urls.message, /^https:\/\//);
    const [ann, bob] = await Promise.all(['ann', 'bob'].map((name) =>
      openChat(t, serve.urls.message, 'tls', { name, ignoreHTTPSErrors: true })));
    const sent = await typeAndSend(ann, 'over TLS');
    const seen = await waitForMessage(bob, 'over TLS');
    assert.equal(seen.id, sent.id);
    assert.equal(seen.user, 'ann');
    assert.equal(await bob.evaluate(() => location.protocol), 'https:');
  });
});

test('no console errors or warnings, and no uncaught exceptions, on any page', (t) => {
  for (const line of consoleWatch.excused) t.diagnostic(`expected, during a deliberate outage: ${line}`);
  assert.deepEqual(consoleWatch.problems, []);
});
