import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../../lib/config.ts';
import { CONFIGURATION_PAGE, configReference, configurationPage } from '../../tools/config-reference.ts';

describe('the configuration reference', () => {
  test('docs/configuration.md is what the schema generates (npm run docs:config rewrites it)', async () => {
    const page = await readFile(CONFIGURATION_PAGE, 'utf8');
    expect(page, 'docs/configuration.md differs from lib/config.ts: run npm run docs:config').toBe(
      await configurationPage(page),
    );
  });

  test('every setting has a description, and nested settings are listed by their dotted path', () => {
    const rows = configReference()
      .split('\n')
      .slice(2)
      .map((line) => line.split(' | '));
    expect(rows.map(([path]) => path)).toEqual(
      expect.arrayContaining(['| `products[].code`', '| `metering.callsPerSecond`', '| `registration.appUrl`']),
    );
    const undescribed = rows.filter((cells) => cells[3]!.replace(/ \|$/, '').trim() === '').map(([path]) => path);
    expect(undescribed, 'settings without a description in lib/config.ts').toEqual([]);
  });
});

describe('the configuration example', () => {
  test('the JSON example of docs/configuration.md is a valid configuration', async () => {
    const page = await readFile(CONFIGURATION_PAGE, 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(page)?.[1];
    expect(example, 'docs/configuration.md shows a ```json example').toBeDefined();
    const { marketplace } = JSON.parse(example!) as { marketplace: unknown };
    expect(() => parseConfig(marketplace)).not.toThrow();
  });
});
