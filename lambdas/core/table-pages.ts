/**
 * The items of a DynamoDB query or scan, page after page. By hand rather than with the SDK's paginators, which take
 * only a client of the SDK's own class: the readers here take any client with `send` (a test's, a traced one).
 */
type Item = Record<string, unknown>;

/** One page read from where the last ended (`undefined`: the first page). */
export type PageReader = (startKey: Item | undefined) => Promise<{ Items?: Item[]; LastEvaluatedKey?: Item }>;

/** Every item of every page, until DynamoDB gives no `LastEvaluatedKey` (a page may be empty and still not the last). */
export async function* itemsOfPages(read: PageReader): AsyncGenerator<Item> {
  let startKey: Item | undefined;
  do {
    const page = await read(startKey);
    yield* page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}
