/**
 * AWS clients that send nothing: each remembers the commands it was given and answers what the test set for the
 * command's name (an empty answer otherwise). It imports nothing, so a test file can create it in `vi.hoisted`, before
 * its `vi.mock` of `lambdas/core/aws-clients.ts` hands it to the functions.
 */
export interface SentCommand {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

export interface FakeAws {
  readonly sent: SentCommand[];
  /** What the fake answers, by command name (`GetCommand`, `PutEventsCommand`, ...). */
  readonly answers: Map<string, (input: Record<string, unknown>) => unknown>;
  /** A client (document client, EventBridge, ...) that records and answers as above. */
  readonly client: {
    send(command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown>;
  };
}

export function fakeAws(): FakeAws {
  const sent: SentCommand[] = [];
  const answers = new Map<string, (input: Record<string, unknown>) => unknown>();
  const client = {
    send: (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
      sent.push({ name: command.constructor.name, input: structuredClone(command.input) });
      return Promise.resolve(answers.get(command.constructor.name)?.(command.input) ?? {});
    },
  };
  return { sent, answers, client };
}
