import { expect, test } from 'vitest';
import { inExecutionEnvironments } from '../../local/execution-environments.ts';

/** A function whose instances remember the invocation under way, as a logger's per-request keys do. */
function countedFunction() {
  const made: { current: string | undefined }[] = [];
  const invoke = inExecutionEnvironments(() => {
    const instance: { current: string | undefined } = { current: undefined };
    made.push(instance);
    return async (event: { id: string; gate?: Promise<void> }) => {
      instance.current = event.id;
      await event.gate;
      return instance.current;
    };
  });
  return { invoke, made };
}

test("concurrent invocations run in instances of their own: none sees the other one's state", async () => {
  const { invoke, made } = countedFunction();
  let open = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const first = invoke({ id: 'first', gate }, {});
  const second = invoke({ id: 'second', gate }, {});
  open();
  expect(await Promise.all([first, second])).toEqual(['first', 'second']);
  expect(made).toHaveLength(2);
});

test('an instance is used again once its invocation returned, or failed', async () => {
  const { invoke, made } = countedFunction();
  expect(await invoke({ id: 'one' }, {})).toBe('one');
  await expect(invoke({ id: 'two', gate: Promise.reject(new Error('crashed')) }, {})).rejects.toThrow('crashed');
  expect(await invoke({ id: 'three' }, {})).toBe('three');
  expect(made).toHaveLength(1);
});
