/**
 * What `npm start` prints while it runs. By default a line per thing that happened and nothing for the runs that found
 * nothing to do, so the banner stays in view; `LOG_FORMAT=json` brings back the functions' own JSON log lines. Both
 * stacks meter every second, and the test waits on what each prints, never on the clock. (That idle runs print
 * nothing, run by run, is `idle-logs.test.ts`.)
 */
import { afterAll, describe, test, type ExpectStatic } from 'vitest';
import { fetchSigned } from '../../local/http/signed-fetch.ts';
import { SimulatorControl } from '../../simulator/control-client.ts';
import { subscribeOnBuyerPage } from '../support/buyer-page.ts';
import { startNpmStart, type NpmStart } from '../support/npm-start.ts';

const PRODUCT = 'analytics-pro-example';
const HOUR_MS = 3_600_000;
// Each test starts a whole npm start; on a loaded machine that alone can take most of the default 30 s.
const STACK_TEST_TIMEOUT_MS = 180_000;
const EVERY_SECOND = { METERING_INTERVAL_SECONDS: '1', FINAL_METERING_INTERVAL_SECONDS: '1' };
const stacks: NpmStart[] = [];
afterAll(() => Promise.all(stacks.map((stack) => stack.stop())));

async function start(environment: Record<string, string>): Promise<NpmStart> {
  const stack = await startNpmStart('node', { ...EVERY_SECOND, ...environment });
  stacks.push(stack);
  return stack;
}

/** What the stack printed after its banner (whose last line names the products). */
function afterBanner(stack: NpmStart): string[] {
  const logs = stack.logs();
  const bannerEnd = logs.indexOf('\n', logs.search(/^\s*Products\s/m));
  return logs
    .slice(bannerEnd + 1)
    .split('\n')
    .filter((line) => line !== '');
}

/**
 * Polls with the test's own `expect`: the tests run concurrently, and the global one cannot tell which test a poll
 * belongs to once the other has finished ("expect.poll() must be called inside a test").
 */
async function until(expect: ExpectStatic, condition: () => boolean, what: string, stack: NpmStart): Promise<void> {
  await expect
    .poll(condition, { timeout: 60_000, interval: 200, message: `${what}; it printed:\n${stack.logs()}` })
    .toBe(true);
}

describe.concurrent('npm start', () => {
  test(
    'prints nothing for idle runs, then one line for each thing that happened, and no JSON',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async ({ expect }) => {
      // Empty is unset: the default.
      const stack = await start({ LOG_FORMAT: '' });
      expect(stack.logs()).toMatch(/^\s*Logs\s+a line per thing that happened \(LOG_FORMAT=json/m);
      const control = new SimulatorControl(stack.simulatorUrl);
      // Twenty past an hour, whatever the machine's time, so that fifty minutes later exactly that hour is due.
      const startedAt = Date.parse((await control.clock()).now);
      await control.setClock(new Date(Math.floor(startedAt / HOUR_MS) * HOUR_MS + HOUR_MS + 20 * 60_000));
      // Something happens: a buyer subscribes, the seller's app records usage, and the hour closes.
      const { licenseId } = await subscribeOnBuyerPage(stack.simulatorUrl, PRODUCT);
      await until(
        expect,
        () => afterBanner(stack).some((line) => line.includes('lifecycle: ')),
        'the activation',
        stack,
      );
      const { licenseArn } = await control.license(licenseId);
      const subscriberId = `license:${licenseArn}`;
      const { now } = await control.clock();
      const usage = await fetchSigned(`${stack.apiUrl}/usage`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: [{ subscriberId, dimension: 'requests', quantity: 7, timestamp: now }] }),
      });
      expect(usage.status).toBe(200);
      await control.advanceClock({ minutes: 50 });
      await until(
        expect,
        () => afterBanner(stack).some((line) => /metering: metering run finished: .*\b1 billed\b/.test(line)),
        'the billing run',
        stack,
      );

      const printed = afterBanner(stack);
      expect(printed.filter((line) => line.trimStart().startsWith('{'))).toEqual([]);
      expect(printed).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^\\d\\d:\\d\\d:\\d\\d lifecycle: .* for ${escape(subscriberId)} \\(`)),
          expect.stringMatching(/^\d\d:\d\d:\d\d usage: usage recorded: 1 event\(s\), 1 accepted$/),
        ]),
      );
      // Every line printed says something happened: none is a run that found nothing.
      for (const line of printed) expect(line).not.toMatch(/finished: *$|closed 0 /);
      expect(printed.length).toBeLessThan(20);
    },
  );

  test(
    'with LOG_FORMAT=json, prints the functions JSON log lines, idle runs included',
    { timeout: STACK_TEST_TIMEOUT_MS },
    async ({ expect }) => {
      const stack = await start({ LOG_FORMAT: 'json' });
      expect(stack.logs()).toMatch(/^\s*Logs\s+the functions' JSON logs/m);
      await until(
        expect,
        () =>
          afterBanner(stack).some((line) => {
            const record = JSON.parse(line.startsWith('{') ? line : '{}') as {
              message?: string;
              summary?: { due?: number };
            };
            return record.message === 'Metering run finished' && record.summary?.due === 0;
          }),
        'an idle run in JSON',
        stack,
      );
    },
  );
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
