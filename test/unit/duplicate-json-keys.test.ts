import { expect, test } from 'vitest';
import { firstDuplicateKey } from '../../lambdas/core/duplicate-json-keys.ts';

test.each([
  ['a repeated field', '{"quantity":1,"quantity":5}', 'quantity'],
  ['the top-level field', '{"events":[],"events":[{}]}', 'events'],
  ['a field of an event in an array', '{"events":[{"a":1},{"b":2,"c":[1,{"d":1}],"b":3}]}', 'b'],
  ['a key written with an escape', '{"quantity":1,"quan\\u0074ity":5}', 'quantity'],
  ['an escaped quote in the key', '{"a\\"b":1, "a\\"b" : 2}', 'a"b'],
  ['whitespace around the tokens', '{ "x" : 1 ,\n "x" : 2 }', 'x'],
])('finds %s', (_name, text, key) => {
  JSON.parse(text);
  expect(firstDuplicateKey(text)).toBe(key);
});

test.each([
  ['equal keys in different objects', '{"events":[{"quantity":1},{"quantity":2}]}'],
  ['a value equal to a key', '{"a":"a","b":"a"}'],
  ['strings holding braces, commas and quotes', '{"a":"{\\"a\\":1,","b":"}],[{","c":"\\\\"}'],
  ['an array of strings equal to a key', '{"a":["a","a"]}'],
  ['keys that differ only in case', '{"A":1,"a":2}'],
  ['a top-level array of objects', '[{"a":1},{"a":1}]'],
  ['a scalar', '"a"'],
])('finds none with %s', (_name, text) => {
  JSON.parse(text);
  expect(firstDuplicateKey(text)).toBeUndefined();
});

test('nesting deeper than the call stack allows is scanned', () => {
  const depth = 200_000;
  const text = `${'{"a":'.repeat(depth)}{"b":1,"b":2}${'}'.repeat(depth)}`;
  expect(firstDuplicateKey(text)).toBe('b');
});
