/**
 * Headless Chromium for the browser tests: Debian's own build, because Playwright's browser downloads need network
 * access that CI does not have (`.ci/run` installs the `chromium` package instead).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const FLAGS = [
  // CI runs as root in a container, where Chromium's sandbox cannot start.
  '--no-sandbox',
  // A container's /dev/shm is often too small for Chromium's shared memory.
  '--disable-dev-shm-usage',
  '--disable-gpu',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-extensions',
  // No calls home: the only network a test uses is the one it serves itself.
  '--disable-background-networking',
  // And no name but 127.0.0.1 resolves, so that not even a prefetch or a missed route reaches the real network.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The browser tests need Debian's Chromium at ${CHROMIUM_PATH}, and it is not installed. ` +
        'Install it with `apt-get install --no-install-recommends chromium` (.ci/run does this).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
}
