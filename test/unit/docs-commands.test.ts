import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { projectRoot } from '../../local/config.ts';
import { commandsOf, documentedCommands, type DocumentedCommand } from '../support/docs-commands.ts';

const packageJson = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Programs the docs may name without this test knowing more of them. */
const KNOWN_PROGRAMS = new Set(['curl', 'aws', 'git', 'cd', 'export', 'sleep', 'open', 'time', 'kill', 'cat']);

/** What is wrong with a documented command, or undefined when everything it names exists. */
function problemOf({ command }: DocumentedCommand): string | undefined {
  // Leading assignments (`ID=...`, `SIM=$(node -p ...)`) set variables for what follows.
  const assignments = /^(?:[A-Z_][A-Z0-9_]*=(?:\$\((?:[^()"']|"[^"]*"|'[^']*')*\)|'[^']*'|"[^"]*"|\S*)\s*)+/;
  const words = command.replace(assignments, '').split(/\s+/).filter(Boolean);
  const [program, first, second] = words;
  if (program === undefined) return undefined;
  if (program === 'npm') {
    // `npm run -s <script>`: silent, so that a command's --json output is all there is on stdout.
    const script = second === '-s' ? words[3] : second;
    if (first === 'run') return script !== undefined && script in packageJson.scripts ? undefined : 'no such script';
    return ['start', 'test', 'ci', 'install'].includes(first ?? '') ? undefined : `npm ${first} is not documented`;
  }
  if (program === 'npx') {
    if (first === 'cdk') return 'aws-cdk' in packageJson.devDependencies ? undefined : 'aws-cdk is not a dependency';
    if (first === 'tsx') return fileExists(second);
    if (first === 'vitest') return words.slice(2).filter(looksLikePath).map(fileExists).find(Boolean);
    return `npx ${first} is not a dependency this test knows`;
  }
  if (program === 'node') {
    const script = words.slice(1).find((word, index, rest) => looksLikePath(word) && rest[index - 1] !== '--import');
    return script === undefined ? undefined : fileExists(script);
  }
  if (program.startsWith('./') || program.startsWith('.ci/')) return fileExists(program);
  return KNOWN_PROGRAMS.has(program) ? undefined : `${program}: a program this test does not know`;
}

const looksLikePath = (word: string) => /^[\w.-]+\/[\w./-]+\.(ts|js)$|^(test|bench)\/[\w./-]*$/.test(word);

function fileExists(path: string | undefined): string | undefined {
  if (path === undefined) return 'names no file';
  return existsSync(join(projectRoot, path)) ? undefined : `${path} does not exist`;
}

describe('the commands the documentation gives', () => {
  test('every one names a script, file or program that exists', async () => {
    const commands = await documentedCommands();
    expect(commands.length).toBeGreaterThan(20);
    const problems = commands
      .map((command) => ({ ...command, problem: problemOf(command) }))
      .filter((command) => command.problem !== undefined)
      .map(({ page, heading, command, problem }) => `${page} (${heading}): ${command}: ${problem}`);
    expect(problems).toEqual([]);
  });

  test('are read from sh blocks only, with comments and continuations handled', () => {
    const markdown = [
      '# Title',
      '```json',
      '{ "npm run nothing": 1 }',
      '```',
      '## Try',
      '```sh',
      "npm run meter   # one pass, '#' quoted",
      "curl -s 'http://x/#anchor' \\",
      '  -d 1',
      '```',
    ].join('\n');
    expect(commandsOf('page.md', markdown)).toEqual([
      { page: 'page.md', heading: 'Try', command: 'npm run meter' },
      { page: 'page.md', heading: 'Try', command: "curl -s 'http://x/#anchor' -d 1" },
    ]);
  });

  test('a script that does not exist is found', () => {
    expect(problemOf({ page: 'p', heading: 'h', command: 'npm run no-such-script' })).toBe('no such script');
    expect(problemOf({ page: 'p', heading: 'h', command: 'npm run -s no-such-script' })).toBe('no such script');
    expect(problemOf({ page: 'p', heading: 'h', command: 'npm run -s report -- --json' })).toBeUndefined();
    expect(problemOf({ page: 'p', heading: 'h', command: 'node --import tsx bench/missing.ts' })).toBe(
      'bench/missing.ts does not exist',
    );
  });
});
