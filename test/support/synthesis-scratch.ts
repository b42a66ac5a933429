/**
 * A setup file of the infra tests: aws-cdk-lib writes every app it synthesizes to a new `cdk.out*` directory under
 * the system's temporary folder and never removes it (a full run of these tests left ~130 of them, 75 MB). Each test
 * file gets a temporary folder of its own, removed when its tests are done.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { removeDirectory } from './scratch-directory.ts';

const systemTemporaryFolder = process.env.TMPDIR;
const scratch = mkdtempSync(join(tmpdir(), 'saas-marketplace-infra-'));
process.env.TMPDIR = scratch;

afterAll(async () => {
  if (systemTemporaryFolder === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = systemTemporaryFolder;
  await removeDirectory(scratch);
});
