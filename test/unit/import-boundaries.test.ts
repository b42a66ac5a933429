/**
 * The architecture's boundaries, read from the import graph: the stack (`lib/`) and the functions (`lambdas/`) never
 * import each other and share names only through `contracts/`, which imports nothing from outside itself; the usage
 * client (`client/`), which a seller copies into their app, stands alone; the simulator, which sellers run on its own,
 * takes from the local stack only the HTTP plumbing every local server shares, and from the product three files it
 * speaks alike (listed, so that another is a choice). The parts of metering show their public surface in an `index.ts`
 * each, and only that is imported from outside the part (tests may reach inside).
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { projectRoot } from '../../local/config.ts';

interface Import {
  readonly file: string;
  readonly specifier: string;
  /** The project folder a relative import lands in (`lib`, `contracts`, ...), or `undefined` for a package. */
  readonly folder: string | undefined;
  /** The file a relative import lands in, from the project root; the specifier itself for a package. */
  readonly target: string;
}

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(join(projectRoot, folder), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => relative(projectRoot, join(entry.parentPath, entry.name)));
}

/** Every static import, re-export and dynamic import of a file. */
async function importsOf(file: string): Promise<Import[]> {
  const source = await readFile(join(projectRoot, file), 'utf8');
  const specifiers = [
    ...source.matchAll(
      /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)import\s*'([^']+)'/g,
    ),
  ].map((match) => (match[1] ?? match[2] ?? match[3])!);
  return specifiers.map((specifier) => {
    const target = specifier.startsWith('.')
      ? relative(projectRoot, resolve(projectRoot, dirname(file), specifier))
      : specifier;
    return { file, specifier, target, folder: specifier.startsWith('.') ? target.split('/')[0] : undefined };
  });
}

async function importsFrom(folder: string): Promise<Import[]> {
  return (await Promise.all((await sourceFiles(folder)).map(importsOf))).flat();
}

const describeImport = ({ file, specifier }: Import) => `${file} imports ${specifier}`;

describe('the import graph', () => {
  test('contracts/ imports nothing but its own files: no package, no Node built-in', async () => {
    const imports = await importsFrom('contracts');
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((entry) => entry.folder !== 'contracts').map(describeImport)).toEqual([]);
  });

  test.each([
    ['lambdas', ['lambdas', 'contracts']],
    ['lib', ['lib', 'contracts']],
    ['client', ['client']],
  ])('%s/ imports from the project only %j', async (folder, allowed) => {
    const imports = await importsFrom(folder);
    expect(imports.some((entry) => entry.folder === folder)).toBe(true);
    const crossing = imports.filter((entry) => entry.folder !== undefined && !allowed.includes(entry.folder));
    expect(crossing.map(describeImport)).toEqual([]);
  });

  test('simulator/ stands apart from the local stack: only the HTTP plumbing every local server shares', async () => {
    const imports = await importsFrom('simulator');
    const intoLocal = imports.filter(
      (entry) =>
        entry.folder === 'local' &&
        !entry.target.startsWith('local/http/') &&
        // The entry point reads the seller's configuration, as `npm start` does.
        !(entry.file === 'simulator/main.ts' && ['local/config.ts', 'local/sdk-environment.ts'].includes(entry.target)),
    );
    expect(intoLocal.map(describeImport)).toEqual([]);
  });

  test('simulator/ takes from the product only what it must speak alike', async () => {
    const intoProduct = (await importsFrom('simulator')).filter(
      (entry) => entry.folder === 'lambdas' || entry.folder === 'lib',
    );
    expect([...new Set(intoProduct.map((entry) => entry.target))].sort()).toEqual([
      // A failure's message with its cause, as the product logs it.
      'lambdas/core/errors.ts',
      // The buyer page escapes as the product's pages do.
      'lambdas/registration/html.ts',
      // A product is created with the shape it has in cdk.json.
      'lib/config.ts',
    ]);
  });

  test('the metering parts (bucket, recording, run, report) are imported from outside only through their index.ts', async () => {
    const parts = ['bucket', 'recording', 'run', 'report'].map((part) => `lambdas/core/metering/${part}/`);
    const imports = (
      await Promise.all(['lambdas', 'local', 'lib', 'simulator', 'tools', 'bench'].map(importsFrom))
    ).flat();
    const intoAPart = imports.filter((entry) =>
      parts.some((part) => entry.target.startsWith(part) && !entry.file.startsWith(part)),
    );
    expect(intoAPart.length).toBeGreaterThan(0);
    expect(intoAPart.filter((entry) => !entry.target.endsWith('/index.ts')).map(describeImport)).toEqual([]);
  });

  test('the reader sees every kind of import, so the checks above cannot pass by missing one', async () => {
    const imports = await importsOf('lambdas/metering/metering.ts');
    expect(imports.map((entry) => entry.specifier)).toContain('./metering-function.ts');
  });
});
