/**
 * What docs/operations.md says about the commands, checked against what they do: the AWS CLI example that lists the
 * local queues runs as written (with AWS CLI v1 too, which reads only `AWS_DEFAULT_REGION`), and the table of the
 * services each command needs names every command that stops for want of the simulator when no state file is there.
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { expect, inject, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';
import { getFreePort } from '../../../local/free-port.ts';
import { commandsOf } from '../../support/docs-commands.ts';
import { useLocalStack } from '../../support/local-stack.ts';
import { runNodeCommand, runProcess } from '../../support/node-command.ts';
import { scratchDirectory } from '../../support/scratch-directory.ts';

/** What would point the commands elsewhere than where each test says. */
const LOCATING_VARIABLES = [
  ...['DYNAMODB', 'MARKETPLACE', 'SQS'].map((service) => `${service}_ENDPOINT`),
  ...['DYNAMODB_PORT', 'SIMULATOR_PORT', 'SQS_PORT', 'PORT', 'API_URL', 'SUBSCRIBERS_TABLE', 'USAGE_TABLE'],
];
LOCATING_VARIABLES.forEach((variable) => delete process.env[variable]);

const local = useLocalStack();
const PAGE = 'docs/operations.md';
const operations = () => readFile(join(projectRoot, PAGE), 'utf8');

/** Each test runs commands in processes of their own (`node --import tsx`): seconds apiece on a loaded machine. */
const COMMAND_TEST_TIMEOUT_MS = 120_000;

/** The AWS CLI commands of the page, without the variables set before them. */
async function awsCliCommands() {
  return commandsOf(PAGE, await operations()).filter(({ command }) =>
    /^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*aws\s/.test(command),
  );
}

test('no AWS CLI command of the page sets its region with AWS_REGION alone, which AWS CLI v1 ignores', async () => {
  const commands = await awsCliCommands();
  expect(commands.length).toBeGreaterThan(0);
  const regionOnlyForV2 = commands.filter(
    ({ command }) => /(?:^|\s)AWS_REGION=/.test(command) && !/(?:^|\s)AWS_DEFAULT_REGION=/.test(command),
  );
  expect(regionOnlyForV2.map(({ command }) => command)).toEqual([]);
});

const awsCli = spawnSync('aws', ['--version'], { encoding: 'utf8' });

test.skipIf(awsCli.status !== 0)(
  'the documented sqs list-queues runs as written against the local queues, with the installed AWS CLI',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const listing = (await awsCliCommands()).find(({ command }) => command.includes('sqs list-queues'));
    expect(listing, `${PAGE} shows aws ... sqs list-queues`).toBeDefined();
    // The project folder as the command expects it, with npm start's state file, and nothing of the user's AWS setup:
    // no profile, no region, no credentials but those the command sets.
    const folder = await scratchDirectory('documented-aws-');
    await writeFile(join(folder, '.local-stack.json'), JSON.stringify({ sqsEndpoint: local.stack.sqsEndpoint }));
    const run = await runProcess('sh', ['-c', listing!.command], {
      cwd: folder,
      env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, HOME: folder },
    });
    expect(run.status, `${awsCli.stdout}${awsCli.stderr}: ${run.stderr}`).toBe(0);
    const { QueueUrls } = JSON.parse(run.stdout) as { QueueUrls: string[] };
    expect(QueueUrls).toContainEqual(expect.stringMatching(/\/lifecycle-dead-letters$/));
  },
);

test(
  'with no state file, the commands that stop for want of the simulator are those its row of the table names',
  { timeout: COMMAND_TEST_TIMEOUT_MS },
  async () => {
    const folder = await scratchDirectory('no-stack-');
    const port = await getFreePort();
    const row = (await operations())
      .split('\n')
      .find((line) => line.startsWith('|') && line.includes('`MARKETPLACE_ENDPOINT`'));
    expect(row, `${PAGE} has a row for the simulator`).toBeDefined();
    for (const name of ['subscribers', 'meter', 'report', 'sample-usage']) {
      const run = await runNodeCommand([`local/commands/${name}.ts`], {
        LOCAL_STACK_STATE: join(folder, 'none.json'),
        DYNAMODB_ENDPOINT: inject('dynamodbEndpoint'),
        SIMULATOR_PORT: String(port),
      });
      expect(run.status, name).toBe(1);
      expect(run.stderr, name).toContain(`nothing answers at http://127.0.0.1:${port} for the Marketplace simulator`);
      expect(run.stderr, name).toContain('set MARKETPLACE_ENDPOINT to the URL of the Marketplace simulator');
      expect(row, `the simulator's row names ${name}`).toContain(`\`${name}\``);
    }
  },
);
