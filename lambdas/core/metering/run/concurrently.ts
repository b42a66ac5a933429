/**
 * Work over a stream of items with a bounded number of tasks in flight: the metering run's stages pull what they can
 * handle and no more, so that memory stays bounded whatever the backlog.
 */

/**
 * Runs a task for each item, at most `limit` at a time. If a task throws, no further task starts, and the error is
 * thrown once the tasks already running have finished: a failed run leaves nothing of its own still writing behind it.
 */
export async function forEachConcurrently<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const queue = iteratorOf(items);
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let next = await queue.next(); !next.done && failure === undefined; next = await queue.next()) {
      try {
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  } finally {
    await queue.return?.();
  }
  if (failure !== undefined) throw failure.error;
}

/**
 * The task's result for each item, in the items' order, with at most `limit` tasks in flight (the next item is taken
 * when the oldest result is handed on). A task that throws ends the stream with its error, once the tasks in flight
 * have finished.
 */
export async function* mapConcurrently<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const queue = iteratorOf(items);
  const inFlight: Promise<{ readonly value: R } | { readonly error: unknown }>[] = [];
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && inFlight.length < Math.max(1, limit)) {
        const next = await queue.next();
        if (next.done) exhausted = true;
        else
          inFlight.push(
            task(next.value).then(
              (value) => ({ value }),
              (error: unknown) => ({ error }),
            ),
          );
      }
      const oldest = inFlight.shift();
      if (oldest === undefined) return;
      const outcome = await oldest;
      if ('error' in outcome) throw outcome.error;
      yield outcome.value;
    }
  } finally {
    await Promise.allSettled(inFlight);
    await queue.return?.();
  }
}

/** The items until `stop()` answers true, asked before each one is taken. */
export async function* takeUntil<T>(items: AsyncIterable<T>, stop: () => boolean): AsyncGenerator<T> {
  for await (const item of items) {
    if (stop()) return;
    yield item;
  }
}

function iteratorOf<T>(items: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> | Iterator<T> {
  return Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
}

/**
 * The items, with up to `ahead` of them asked for before they are wanted: the stages upstream keep working while the
 * consumer is busy, and stop when that many wait.
 */
export async function* prefetched<T>(items: AsyncIterable<T>, ahead: number): AsyncGenerator<T> {
  const iterator = items[Symbol.asyncIterator]();
  // An async generator answers queued `next` calls in order: asking ahead is asking it to keep going.
  const asked: Promise<IteratorResult<T>>[] = [];
  try {
    for (;;) {
      while (asked.length < Math.max(1, ahead)) asked.push(iterator.next());
      const next = await asked.shift()!;
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await Promise.allSettled(asked);
    await iterator.return?.();
  }
}
