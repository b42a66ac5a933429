/** The subscriber repository against DynamoDB Local: the writes that the pages rely on being safe to repeat or race. */
import { expect, test } from 'vitest';
import { documentClient } from '../../../lambdas/core/aws-clients.ts';
import { SubscriberNotFoundError, SubscriberRepository } from '../../../lambdas/core/subscriber-repository.ts';
import { useDynamoDb } from '../../support/dynamodb.ts';

const dynamoDb = useDynamoDb();
const repository = () => new SubscriberRepository(documentClient(dynamoDb.endpoint), dynamoDb.tables.Subscribers);
const identity = (n: number) =>
  ({
    model: 'license',
    productCode: 'p',
    licenseArn: `arn:aws:license-manager::999999999999:license:l-${n}`,
    customerAWSAccountId: '123456789012',
  }) as const;

test('registration is stored once, whoever gets there first; the loser is told it is already registered', async () => {
  const subscribers = repository();
  const subscriber = await subscribers.recordResolution(identity(1), 'standard', new Date('2026-11-26T10:00:00Z'));
  const outcomes = await Promise.all(
    ['First', 'Second', 'Third'].map((company) =>
      subscribers.completeRegistration(subscriber.id, { company }, new Date('2026-11-26T10:01:00Z')),
    ),
  );
  expect(outcomes.filter((outcome) => outcome === 'completed')).toHaveLength(1);
  expect(outcomes.filter((outcome) => outcome === 'already-registered')).toHaveLength(2);
  const winner = ['First', 'Second', 'Third'][outcomes.indexOf('completed')];
  expect((await subscribers.get(subscriber.id))?.registration?.details.company).toBe(winner);
});

test('registering a subscriber that was never resolved is an error, not a new item', async () => {
  const subscribers = repository();
  await expect(subscribers.completeRegistration('license:nobody', { company: 'X' }, new Date())).rejects.toBeInstanceOf(
    SubscriberNotFoundError,
  );
  expect(await subscribers.get('license:nobody')).toBeUndefined();
});

test('a resolution keeps the first resolution time and moves the last', async () => {
  const subscribers = repository();
  await subscribers.recordResolution(identity(2), 'standard', new Date('2026-11-26T10:00:00Z'));
  const again = await subscribers.recordResolution(identity(2), 'standard', new Date('2026-11-26T11:00:00Z'));
  expect(again.resolvedFirstAt).toBe('2026-11-26T10:00:00.000Z');
  expect(again.resolvedLastAt).toBe('2026-11-26T11:00:00.000Z');
});
