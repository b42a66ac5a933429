/**
 * For an end-to-end test file: headless Chromium and `npm start`, started once before its tests (the browser first:
 * without Chromium there is nothing to start the stack for), and stopped after them, `npm start` cleanly (exit 0) and
 * leaving no java behind.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { launchChromium } from './chromium.ts';
import { startNpmStart, type NpmStart } from './npm-start.ts';
import { expectGone } from './processes.ts';

export function useBrowserAndStack(): () => { stack: NpmStart; browser: Browser } {
  let browser: Browser | undefined;
  let stack: NpmStart | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startNpmStart();
  });

  afterAll(async () => {
    await browser?.close();
    if (stack === undefined) return;
    expect(await stack.stop()).toBe(0);
    await expectGone(stack.javaPid, Number(new URL(stack.dynamoDbEndpoint).port));
  });

  return () => {
    if (stack === undefined || browser === undefined) throw new Error('the stack and the browser start in beforeAll');
    return { stack, browser };
  };
}
