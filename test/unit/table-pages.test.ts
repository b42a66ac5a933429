/** Reading a table page by page: every page is read, an empty one included, until DynamoDB gives no next key. */
import { expect, test } from 'vitest';
import { itemsOfPages } from '../../lambdas/core/table-pages.ts';

test('an empty page with a LastEvaluatedKey is not the last: the items after it are read, each page once', async () => {
  const pages = [
    { Items: [{ id: 1 }, { id: 2 }], LastEvaluatedKey: { pk: 'a' } },
    // A filtered scan or query may find nothing in a page and still have more to read.
    { Items: [], LastEvaluatedKey: { pk: 'b' } },
    { LastEvaluatedKey: { pk: 'c' } },
    { Items: [{ id: 3 }] },
  ];
  const startKeys: unknown[] = [];
  const items: unknown[] = [];
  for await (const item of itemsOfPages((startKey) => {
    startKeys.push(startKey);
    return Promise.resolve(pages[startKeys.length - 1]!);
  })) {
    items.push(item);
  }
  expect(items).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  expect(startKeys).toEqual([undefined, { pk: 'a' }, { pk: 'b' }, { pk: 'c' }]);
});

test('pages are read as the items are taken, not ahead: a reader that stops early reads no further', async () => {
  let reads = 0;
  const endless = itemsOfPages(() => {
    reads++;
    return Promise.resolve({ Items: [{ page: reads }], LastEvaluatedKey: { pk: String(reads) } });
  });
  for await (const item of endless) {
    if ((item as { page: number }).page === 2) break;
  }
  expect(reads).toBe(2);
});
