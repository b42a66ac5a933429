/**
 * The usage client's first example (`docs/usage-client.md`, "Try it against `npm start`") run as the page says, as a
 * file of its own with `node --import tsx`, against a local stack on the machine's time: it must print what the page
 * says it prints, and record what the page says is billed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { usageReport } from '../../../lambdas/core/metering/report/usage-report.ts';
import { projectRoot } from '../../../local/config.ts';
import { subscribeOnBuyerPage } from '../../support/buyer-page.ts';
import { settleLifecycle } from '../../support/lifecycle.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { runNodeCommand } from '../../support/node-command.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

const local = useLocalStack({ marketplaceNotifications: true });

const PAGE = 'docs/usage-client.md';
/** The address the example calls: the default ports' `npm start`, which the test replaces with its stack's. */
const DOCUMENTED_USAGE_URL = 'http://127.0.0.1:3000/local/usage';
const DAY_MS = 86_400_000;

/** The first TypeScript block under the page's "Try it" heading. */
async function documentedExample(): Promise<string> {
  const page = await readFile(join(projectRoot, PAGE), 'utf8');
  const section = page.slice(page.indexOf('## Try it against `npm start`'));
  const example = /```ts\n([^]*?)```/.exec(section)?.[1];
  if (example === undefined) throw new Error(`${PAGE} has no TypeScript example under "Try it"`);
  return example;
}

test('the documented example prints the report the page shows, and records 1,000 requests and 12 GB', async () => {
  const { licenseId } = await subscribeOnBuyerPage(local.stack.simulator.url, 'analytics-pro-example');
  await settleLifecycle(local.stack);
  const subscriberId = `license:${(await local.control.license(licenseId)).licenseArn}`;
  const example = await documentedExample();
  expect(example, 'the example calls the default address, which the test replaces').toContain(DOCUMENTED_USAGE_URL);
  // In a folder of its own rather than the root of the repository, where the page saves it: an ES module there too
  // (the repository's package.json says so), its import made absolute.
  const folder = await scratchDirectory('usage-example-');
  await writeFile(join(folder, 'package.json'), '{ "type": "module" }');
  const file = join(folder, 'usage-example.ts');
  await writeFile(
    file,
    example
      .replace(DOCUMENTED_USAGE_URL, `${local.stack.apiUrl}/usage`)
      .replace("from './client/index.ts'", `from ${JSON.stringify(join(projectRoot, 'client/index.ts'))}`),
  );

  const run = await runNodeCommand([file, subscriberId], {});

  expect(run.status, run.stderr).toBe(0);
  expect(run.stdout).toContain('{ requests: 1, delivered: 1001, refused: 1, pending: 0 }');
  expect(`${run.stdout}${run.stderr}`).toContain(
    'refused: cpu_hours is not a metered dimension of product analytics-pro-example 1 app events',
  );
  const now = local.stack.simulator.simulator.clock.now();
  const report = await usageReport(local.documents, local.stack.tables.Usage, {
    from: new Date(now.getTime() - DAY_MS),
    to: new Date(now.getTime() + DAY_MS),
    subscriberIds: [subscriberId],
  });
  const recorded = Object.fromEntries(
    ['requests', 'storage_gb'].map((dimension) => [
      dimension,
      report.rows.filter((row) => row.dimension === dimension).reduce((sum, row) => sum + row.recorded, 0),
    ]),
  );
  expect(recorded).toEqual({ requests: 1000, storage_gb: 12 });
});
