/**
 * What a browser page did, recorded for assertions after the fact: every URL it requested or navigated to, every form
 * body it posted, every console error and page error (Chromium reports Content-Security-Policy violations as console
 * errors), and every request that tried to leave this machine.
 *
 * Requests are held at the DevTools protocol's Fetch domain rather than with `page.route`, because Playwright's
 * routes see only the first URL of a redirect chain: a 303 to another site would go out to the real network. Here
 * every hop is held; those for 127.0.0.1 go on, and the rest are answered with a page the test supplies or refused.
 */
import type { Page } from 'playwright-core';

export interface BrowsingRecord {
  readonly urls: string[];
  readonly posts: { readonly url: string; readonly body: string }[];
  readonly problems: string[];
  /** Requests for anything but 127.0.0.1, in order; none reached the network. */
  readonly offMachine: string[];
}

const LOCAL_ORIGIN = /^https?:\/\/127\.0\.0\.1(:\d+)?\//;
const isOffMachine = (url: string) => /^https?:/.test(url) && !LOCAL_ORIGIN.test(url);

/** @param offMachinePages HTML to answer for URLs off this machine; any other such request fails. */
export async function recordBrowsing(
  page: Page,
  offMachinePages: Readonly<Record<string, string>> = {},
): Promise<BrowsingRecord> {
  const record: BrowsingRecord = { urls: [], posts: [], problems: [], offMachine: [] };
  page.on('request', (request) => {
    record.urls.push(request.url());
    if (request.method() === 'POST') record.posts.push({ url: request.url(), body: request.postData() ?? '' });
  });
  page.on('framenavigated', (frame) => record.urls.push(frame.url()));
  page.on('console', (message) => {
    const { url } = message.location();
    // Only this machine's pages are under test, not the stand-ins for other sites (nor their missing favicons).
    if (message.type() === 'error' && !isOffMachine(url)) record.problems.push(`console: ${message.text()} (${url})`);
  });
  page.on('pageerror', (error) => record.problems.push(`page error: ${error.message}`));

  const devtools = await page.context().newCDPSession(page);
  devtools.on('Fetch.requestPaused', ({ requestId, request }) => {
    // Requests Playwright does not report (the favicon) are held here too.
    record.urls.push(request.url);
    const standIn = offMachinePages[request.url];
    let answer: Promise<unknown>;
    if (!isOffMachine(request.url)) {
      answer = devtools.send('Fetch.continueRequest', { requestId });
    } else {
      record.offMachine.push(request.url);
      answer =
        standIn === undefined
          ? devtools.send('Fetch.failRequest', { requestId, errorReason: 'BlockedByClient' })
          : devtools.send('Fetch.fulfillRequest', {
              requestId,
              responseCode: 200,
              responseHeaders: [{ name: 'content-type', value: 'text/html; charset=utf-8' }],
              body: Buffer.from(standIn).toString('base64'),
            });
    }
    answer.catch((error: unknown) => record.problems.push(`devtools: ${String(error)} (${request.url})`));
  });
  await devtools.send('Fetch.enable', { patterns: [{ urlPattern: '*' }] });
  return record;
}

/** The page's session history as the browser keeps it (the back/forward list), through the DevTools protocol. */
export async function historyOf(page: Page): Promise<string[]> {
  const session = await page.context().newCDPSession(page);
  try {
    const { entries } = await session.send('Page.getNavigationHistory');
    return entries.flatMap((entry) => [entry.url, entry.userTypedURL]);
  } finally {
    await session.detach();
  }
}
