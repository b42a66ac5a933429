/**
 * The documentation agrees with the tree: its links lead somewhere, `npm run bench` runs every benchmark the figures
 * come from, and the simulator's reference lists every setting it has.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { projectRoot } from '../../local/config.ts';
import { batchRules } from '../../simulator/operations/batch-meter-usage.ts';
import { defaultSettings } from '../../simulator/settings.ts';

const read = (path: string) => readFileSync(join(projectRoot, path), 'utf8');

const markdownFiles = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
  cwd: projectRoot,
  encoding: 'utf8',
})
  .split('\n')
  .filter((path) => path !== '' && existsSync(join(projectRoot, path)));

/** The text outside fenced code blocks, where a `[x](y)` is a link. */
const prose = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = slug;
    for (let repeat = 1; anchors.has(anchor); repeat++) anchor = `${slug}-${repeat}`;
    anchors.add(anchor);
  }
  return anchors;
}

/** What is wrong with each relative link of `page`: a file that does not exist, or an anchor no heading has. */
function brokenLinksOf(page: string): string[] {
  const problems: string[] = [];
  for (const [, target] of prose(read(page)).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue;
    const [path = '', anchor] = target!.split('#');
    const file = path === '' ? page : relative(projectRoot, join(projectRoot, dirname(page), path));
    if (!existsSync(join(projectRoot, file))) {
      problems.push(`${page}: ${target} (no ${file})`);
    } else if (anchor !== undefined && file.endsWith('.md') && !anchorsOf(read(file)).has(anchor)) {
      problems.push(`${page}: ${target} (no heading of ${file} has that anchor)`);
    }
  }
  return problems;
}

describe('the documentation', () => {
  test('every relative link leads to a file that exists, and to a heading of it', () => {
    expect(markdownFiles).toContain('README.md');
    expect(markdownFiles.flatMap(brokenLinksOf)).toEqual([]);
  });

  test('anchors are made as GitHub makes them, outside code blocks', () => {
    expect(anchorsOf('# Title\n## The `npm run meter` command\n## Title\n```sh\n# not a heading\n```')).toEqual(
      new Set(['title', 'the-npm-run-meter-command', 'title-1']),
    );
  });

  test('npm run bench runs every benchmark the figures name', () => {
    const named = new Set([...read('docs/benchmarks.md').matchAll(/bench\/([\w-]+\.ts)/g)].map(([, file]) => file!));
    expect(named.size).toBeGreaterThan(5);
    const run = read('bench/run.ts');
    expect([...named].filter((file) => !run.includes(`'${file}'`))).toEqual([]);
  });

  test("the simulator's reference has a row for each of its settings", () => {
    const reference = read('docs/simulator.md');
    const missing = Object.keys(defaultSettings).filter((name) => !reference.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });

  test("the simulator's reference lists BatchMeterUsage's batch rules in the order they are applied", () => {
    const listed = [...read('docs/simulator.md').matchAll(/^\| `([a-z-]+)` +\| `?[A-Z]\w+Exception/gm)].map(
      ([, id]) => id,
    );
    expect(listed).toEqual(batchRules.map((rule) => rule.id));
  });
});
