/**
 * Sellers copy `client/` into their own app (docs/usage-client.md). There it must build with plain `tsc` emitting
 * JavaScript, with the settings the docs name, and run on Node.js; and it must stay within the TypeScript that type
 * stripping erases (`erasableSyntaxOnly`: no parameter properties, enums or namespaces), so that Node.js's own type
 * stripping takes it as it is.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { projectRoot } from '../../../local/config.ts';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * The app's tsconfig: what docs/usage-client.md tells a seller building with tsc to set, what most apps set beside it,
 * and `erasableSyntaxOnly`, the check that the client stays strippable.
 */
const APP_TSCONFIG = {
  compilerOptions: {
    module: 'NodeNext',
    rewriteRelativeImportExtensions: true,
    types: ['node'],
    target: 'ES2022',
    strict: true,
    skipLibCheck: true,
    rootDir: 'src',
    outDir: 'dist',
    erasableSyntaxOnly: true,
  },
};

/** Records an event and closes at once: the event comes back undelivered, without a request to anyone. */
const APP = `
import { UsageClient, UsageNotDeliveredError } from './usage-client/index.ts';

const client = new UsageClient({
  usageUrl: 'http://127.0.0.1:9/local/usage',
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDCOPIEDCLIENT', secretAccessKey: 'copied-client-secret' },
});
client.record({ subscriberId: 'sub-1', dimension: 'requests', quantity: 3 });
try {
  await client.close({ timeoutMs: 0 });
  console.log(JSON.stringify({ closed: 'delivered' }));
} catch (error) {
  if (!(error instanceof UsageNotDeliveredError)) throw error;
  console.log(JSON.stringify({ closed: error.name, quantities: error.events.map((event) => event.quantity) }));
}
`;

let app: string;

beforeAll(async () => {
  app = await mkdtemp(join(tmpdir(), 'usage-client-app-'));
  await cp(join(projectRoot, 'client'), join(app, 'src', 'usage-client'), { recursive: true });
  await writeFile(join(app, 'src', 'app.ts'), APP);
  await writeFile(join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify(APP_TSCONFIG));
  // The app's own dependencies: the three the client names, and the types of Node.js.
  await symlink(join(projectRoot, 'node_modules'), join(app, 'node_modules'), 'dir');
});

afterAll(async () => {
  await rm(app, { recursive: true, force: true });
});

test('copied into an app, the client builds with tsc (erasable syntax only) and runs on Node.js', async () => {
  await expect(run(process.execPath, [tsc, '-p', app])).resolves.toMatchObject({ stdout: '' });

  const { stdout } = await run(process.execPath, [join(app, 'dist', 'app.js')], { cwd: app });
  expect(JSON.parse(stdout)).toEqual({ closed: 'UsageNotDeliveredError', quantities: [3] });
});
