/**
 * Usage metering: `POST /usage` (IAM-authorized) and the usage function behind it; the metering function, started by
 * its hourly schedule; the final-metering function, started every minute and by the Subscriber Ending rule on the
 * seller bus; what happens to a run that fails; the alarms and the dashboard on the runs' own metrics; the outputs.
 * Each assertion reads the synthesized template.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { meteringEnvironment, usageEnvironment } from '../../lambdas/core/environment.ts';
import { bucketKey, usageEventKey } from '../../lambdas/core/metering/bucket/usage-bucket.ts';
import { SELLER_EVENT } from '../../contracts/index.ts';
import { agreementKey, sessionKey, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { mayOnItem, on, partsOf, permissionsOf, statementsOf, sendsTraces, writesOwnLogs } from './iam.ts';
import { publishedEntries, subscriptionEnding } from './subscribers-stream.ts';
import {
  getAtt,
  logicalIdOf,
  meteringOverrides,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  type CfnResource,
} from './synthesis.ts';
import { METERING_METRICS } from '../../contracts/index.ts';

/** Not the default, so that the final-flush rule must take the source from the configuration. */
const eventSource = 'acme.saas-marketplace';
/** The cdk.json configuration, as the default stack below is built from it. */
const config = parseConfig(configFromContext(cdkJsonContext()));

const { stack, template } = synthesize({ 'marketplace.events.source': eventSource });
/** Every metering setting changed (see `meteringOverrides`), and Marketplace's APIs in another region. */
const overridden = synthesize({ ...meteringOverrides, 'marketplace.marketplaceRegion': 'eu-west-1' });

const usage = projectFunction(stack, 'Usage');
const usageIds = partsOf(usage);
const metering = projectFunction(stack, 'Metering');
const meteringIds = partsOf(metering);
const finalMetering = projectFunction(stack, 'FinalMetering');
const finalMeteringIds = partsOf(finalMetering);
const subscribersTableId = logicalIdOf(stack.storage.subscribers);
const usageTableId = logicalIdOf(stack.storage.usage);
const deadLetterQueueId = logicalIdOf(stack.metering.deadLetterQueue);
const namespace = `SaasMarketplace/${stack.stackName}`;
const subscriberId = 'license:arn:aws:license-manager::111122223333:license:l-0123456789abcdef0123456789abcdef';
/** What usage may be recorded for: each product's metered dimensions, by product code. */
const meteredDimensions = Object.fromEntries(
  config.products.map((product) => [
    product.code,
    product.dimensions.filter((dimension) => dimension.kind === 'metered').map((dimension) => dimension.name),
  ]),
);
/** The `metering` settings the functions act on: all but the schedule's minute, which is the stack's alone. */
const functionSettings = (settings: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(settings).filter(([name]) => name !== 'scheduleMinute'));
const meteringSettings = functionSettings(config.metering);

const propertiesOf = (source: Template, logicalId: string) => resourceNamed(source, logicalId).Properties;
const variablesOf = (source: Template, functionId: string) =>
  (propertiesOf(source, functionId)['Environment'] as { Variables: Record<string, unknown> }).Variables;

/** The function's environment as deployed: each table reference stands in for the table name it resolves to. */
function deployedVariables(source: Template, functionId: string, tables: Record<string, string>) {
  return Object.fromEntries(
    Object.entries(variablesOf(source, functionId)).map(([name, value]) => {
      const ref = (value as { Ref?: string }).Ref;
      if (typeof value === 'string') return [name, value];
      if (ref !== undefined && tables[ref] !== undefined) return [name, tables[ref]];
      throw new Error(`${name} holds an unexpected reference: ${JSON.stringify(value)}`);
    }),
  );
}

const rulesOf = (source: Template) => Object.entries(resourcesOfType(source, 'AWS::Events::Rule'));
/** Whether the rule targets the function (by its ARN attribute) or the state machine (whose `Ref` is its ARN). */
const targetsFunction = (rule: CfnResource, logicalId: string) =>
  (rule.Properties['Targets'] as { Arn: unknown }[]).some((target) =>
    [on(getAtt(logicalId, 'Arn')), on({ Ref: logicalId })].includes(on(target.Arn)),
  );

/** The rule on the seller bus (no schedule) that starts final metering when a subscriber starts ending. */
function subscriberEndingRuleId(): string {
  const found = rulesOf(template).filter(
    ([, rule]) =>
      rule.Properties['ScheduleExpression'] === undefined && targetsFunction(rule, finalMeteringIds.functionId),
  );
  if (found.length !== 1) throw new Error(`expected one Subscriber Ending rule, found ${found.length}`);
  return found[0]![0];
}

/** The only rule with a schedule that starts the function or state machine. */
function meteringSchedule(source: Template, functionId: string): [string, CfnResource] {
  const found = rulesOf(source).filter(
    ([, rule]) => rule.Properties['ScheduleExpression'] !== undefined && targetsFunction(rule, functionId),
  );
  if (found.length !== 1) throw new Error(`expected one schedule for the function, found ${found.length}`);
  return found[0] as [string, CfnResource];
}

/** Who may invoke the function: the source ARNs of its permissions. */
function invokersOf(functionId: string): string[] {
  return Object.values(resourcesOfType(template, 'AWS::Lambda::Permission'))
    .filter((permission) => on(permission.Properties['FunctionName']) === on(getAtt(functionId, 'Arn')))
    .map((permission) => on(permission.Properties['SourceArn']))
    .sort();
}

function alarmNamed(source: Template, name: string): Record<string, unknown> {
  const found = Object.values(resourcesOfType(source, 'AWS::CloudWatch::Alarm')).filter(
    (alarm) => alarm.Properties['AlarmName'] === `SaasMarketplace-${name}`,
  );
  if (found.length !== 1) throw new Error(`expected one alarm ${name}, found ${found.length}`);
  return (found[0] as CfnResource).Properties;
}

describe('POST /usage', () => {
  const apiId = logicalIdOf(stack.api.restApi);

  /** The full path of an API Gateway resource, from its parents. */
  function pathOf(resourceId: string): string {
    const resource = propertiesOf(template, resourceId) as { ParentId: { Ref?: string }; PathPart: string };
    const parent = resource.ParentId.Ref === undefined ? '' : pathOf(resource.ParentId.Ref);
    return `${parent}/${resource.PathPart}`;
  }

  const methods = Object.values(resourcesOfType(template, 'AWS::ApiGateway::Method')).map((method) => {
    const { HttpMethod, ResourceId, AuthorizationType, Integration } = method.Properties as {
      HttpMethod: string;
      ResourceId: { Ref: string };
      AuthorizationType: string;
      Integration: { Uri: unknown };
    };
    return {
      route: `${HttpMethod} ${pathOf(ResourceId.Ref)}`,
      authorization: AuthorizationType,
      uri: on(Integration.Uri),
    };
  });

  test("requires IAM (SigV4 and execute-api:Invoke), while the buyer's routes stay public", () => {
    expect(Object.fromEntries(methods.map(({ route, authorization }) => [route, authorization]))).toEqual({
      'ANY /usage': 'AWS_IAM',
      'ANY /subscribers/{id}': 'AWS_IAM',
      'ANY /fulfillment': 'NONE',
      'ANY /register': 'NONE',
    });
  });

  test('is served by the usage function, and only by it', () => {
    const usageArn = on(getAtt(usageIds.functionId, 'Arn'));
    expect(methods.filter(({ uri }) => uri.includes(usageArn)).map(({ route }) => route)).toEqual(['ANY /usage']);
    // API Gateway may invoke it for /usage of this API (its stage, and the console's test invocations), nothing else.
    const permissions = Object.values(resourcesOfType(template, 'AWS::Lambda::Permission')).filter(
      (permission) => on(permission.Properties['FunctionName']) === usageArn,
    );
    expect(permissions).toHaveLength(2);
    for (const permission of permissions) {
      expect(permission.Properties['Principal']).toBe('apigateway.amazonaws.com');
      const [, parts] = (permission.Properties['SourceArn'] as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
      expect(parts).toContainEqual({ Ref: apiId });
      expect(parts.at(-1)).toMatch(/^\/(test-invoke-stage\/)?\*\/usage$/);
    }
  });

  test("answers within API Gateway's 29 seconds, and shares the account's concurrency", () => {
    const properties = propertiesOf(template, usageIds.functionId);
    expect(properties['Timeout']).toBeLessThan(29);
    expect(properties['ReservedConcurrentExecutions']).toBeUndefined();
  });
});

describe('the usage function', () => {
  const subscribers = getAtt(subscribersTableId, 'Arn');
  const usageTable = getAtt(usageTableId, 'Arn');
  const may = (table: string, action: string, partitionKey: string) =>
    mayOnItem(template, usageIds.roleId, table, action, partitionKey);

  test('reads subscribers and event ids, updates buckets and puts event ids (its transaction items), nothing else', () => {
    expect(permissionsOf(template, usageIds.roleId)).toEqual(
      [
        ...writesOwnLogs(usage),
        ...sendsTraces,
        `dynamodb:BatchGetItem on ${on(subscribers)} for items SUBSCRIBER#*`,
        `dynamodb:UpdateItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:PutItem on ${on(usageTable)} for items EVENT#*`,
        `dynamodb:BatchGetItem on ${on(usageTable)} for items EVENT#*`,
      ].sort(),
    );
  });

  test('may touch the items its code touches, as the runtime keys them, and no other kind', () => {
    const bucket = bucketKey(subscriberId, new Date('2026-12-01T10:00:00Z'), 'requests').pk;
    const usageEvent = usageEventKey('event-1').pk;
    const subscriber = subscriberKey(subscriberId).pk;
    expect(may(subscribersTableId, 'dynamodb:BatchGetItem', subscriber)).toBe(true);
    expect(may(usageTableId, 'dynamodb:UpdateItem', bucket)).toBe(true);
    expect(may(usageTableId, 'dynamodb:PutItem', usageEvent)).toBe(true);
    expect(may(usageTableId, 'dynamodb:BatchGetItem', usageEvent)).toBe(true);

    expect(may(subscribersTableId, 'dynamodb:BatchGetItem', sessionKey('digest').pk)).toBe(false);
    expect(may(subscribersTableId, 'dynamodb:BatchGetItem', agreementKey('agmt-1').pk)).toBe(false);
    expect(may(subscribersTableId, 'dynamodb:UpdateItem', subscriber)).toBe(false);
    expect(may(usageTableId, 'dynamodb:PutItem', bucket)).toBe(false);
    expect(may(usageTableId, 'dynamodb:BatchGetItem', bucket)).toBe(false);
    expect(may(usageTableId, 'dynamodb:UpdateItem', usageEvent)).toBe(false);
    expect(may(usageTableId, 'dynamodb:DeleteItem', bucket)).toBe(false);
  });

  test('has no Scan and nothing table-wide: every item action is confined by leading keys', () => {
    for (const statement of statementsOf(template, usageIds.roleId)) {
      const actions = [statement.Action].flat();
      expect(actions.join(), 'Scan or a wildcard').not.toMatch(/Scan|\*/);
      const onATable = [statement.Resource]
        .flat()
        .some((resource) => [subscribersTableId, usageTableId].some((id) => on(resource) === on(getAtt(id, 'Arn'))));
      // A transaction has no IAM action of its own: its Update and Put items are each authorized as UpdateItem and
      // PutItem, with the leading-keys conditions above.
      if (onATable) expect(statement.Condition, actions.join()).toBeDefined();
    }
  });

  test('is told both tables, the products and their metered dimensions, and the metering settings', () => {
    const variables = deployedVariables(template, usageIds.functionId, {
      [subscribersTableId]: 'Subscribers',
      [usageTableId]: 'Usage',
    });
    const parsed = usageEnvironment.parse(variables);
    expect(parsed).toMatchObject({ SUBSCRIBERS_TABLE: 'Subscribers', USAGE_TABLE: 'Usage' });
    expect(parsed.METERED_DIMENSIONS).toEqual(meteredDimensions);
    expect(parsed.METERING).toEqual(meteringSettings);
  });
});

describe('the metering function', () => {
  const properties = propertiesOf(template, meteringIds.functionId);
  const subscribers = getAtt(subscribersTableId, 'Arn');
  const usageTable = getAtt(usageTableId, 'Arn');
  const index = (table: unknown, name: string) => on({ 'Fn::Join': ['', [table, `/index/${name}`]] });

  test('runs one at a time, up to 15 minutes, with 512 MB, on Node.js 24 and arm64', () => {
    expect(properties).toMatchObject({
      ReservedConcurrentExecutions: 1,
      Timeout: 900,
      MemorySize: 512,
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
    });
  });

  test('queries the two indexes, reads (also a hundred at a time) and settles buckets, reads subscribers, meters; nothing else', () => {
    expect(permissionsOf(template, meteringIds.roleId)).toEqual(
      [
        ...writesOwnLogs(metering),
        ...sendsTraces,
        `dynamodb:Query on ${index(usageTable, 'pending')}`,
        `dynamodb:Query on ${index(subscribers, 'live')}`,
        `dynamodb:BatchGetItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:GetItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:UpdateItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:GetItem on ${on(subscribers)} for items SUBSCRIBER#*`,
        'aws-marketplace:BatchMeterUsage on "*"',
      ].sort(),
    );
  });

  test('may touch buckets and read subscribers, as the runtime keys them, and no other kind of item', () => {
    const may = (table: string, action: string, partitionKey: string) =>
      mayOnItem(template, meteringIds.roleId, table, action, partitionKey);
    const bucket = bucketKey(subscriberId, new Date('2026-12-01T10:00:00Z'), 'requests').pk;
    const usageEvent = usageEventKey('event-1').pk;
    const subscriber = subscriberKey(subscriberId).pk;
    for (const action of ['dynamodb:GetItem', 'dynamodb:UpdateItem']) {
      expect(may(usageTableId, action, bucket), action).toBe(true);
      expect(may(usageTableId, action, usageEvent), action).toBe(false);
    }
    // Only final metering reads a subscriber's buckets by partition; the hourly run finds them through the index.
    expect(may(usageTableId, 'dynamodb:Query', bucket)).toBe(false);
    expect(may(subscribersTableId, 'dynamodb:GetItem', subscriber)).toBe(true);
    expect(may(subscribersTableId, 'dynamodb:UpdateItem', subscriber)).toBe(false);
    expect(may(subscribersTableId, 'dynamodb:GetItem', sessionKey('digest').pk)).toBe(false);
    expect(may(usageTableId, 'dynamodb:PutItem', bucket)).toBe(false);
    expect(may(usageTableId, 'dynamodb:DeleteItem', bucket)).toBe(false);
  });

  test("is told both tables, the products' metered dimensions, the settings and the metrics namespace", () => {
    const variables = deployedVariables(template, meteringIds.functionId, {
      [subscribersTableId]: 'Subscribers',
      [usageTableId]: 'Usage',
    });
    const parsed = meteringEnvironment.parse(variables);
    expect(parsed).toMatchObject({
      SUBSCRIBERS_TABLE: 'Subscribers',
      USAGE_TABLE: 'Usage',
      METRICS_NAMESPACE: namespace,
      METERED_DIMENSIONS: meteredDimensions,
      METERING: meteringSettings,
      FINAL_METERING_GRACE_SECONDS: config.lifecycle.finalMeteringGraceMinutes * 60,
    });
    expect(parsed.PRODUCTS.map((product) => product.code)).toEqual(config.products.map((product) => product.code));
  });

  test('is told the metering settings as configured, not their defaults', () => {
    const { stack: other, template: otherTemplate } = overridden;
    const variables = variablesOf(otherTemplate, partsOf(projectFunction(other, 'Metering')).functionId);
    expect(meteringEnvironment.shape.METERING.parse(variables['METERING'])).toEqual(
      functionSettings(meteringOverrides['marketplace.metering']),
    );
  });

  test('calls Marketplace in the configured marketplaceRegion', () => {
    const { stack: other, template: otherTemplate } = overridden;
    const variables = variablesOf(otherTemplate, partsOf(projectFunction(other, 'Metering')).functionId);
    expect(variables['MARKETPLACE_REGION']).toBe('eu-west-1');
  });
});

/** The state machine that runs the hourly metering: its logical id and properties. */
function meteringStateMachine(source: Template): [string, CfnResource] {
  const found = Object.entries(resourcesOfType(source, 'AWS::StepFunctions::StateMachine'));
  if (found.length !== 1) throw new Error(`expected one state machine, found ${found.length}`);
  return found[0] as [string, CfnResource];
}

/** The state machine's definition, each reference standing in for the logical id it names. */
function definitionOf(stateMachine: CfnResource): Record<string, unknown> {
  const parts = (stateMachine.Properties['DefinitionString'] as { 'Fn::Join': ['', unknown[]] })['Fn::Join'][1];
  const text = parts.map((part) => {
    if (typeof part === 'string') return part;
    const { Ref, 'Fn::GetAtt': attribute } = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
    return Ref === 'AWS::Partition' ? 'aws' : (Ref ?? attribute?.[0] ?? '');
  });
  return JSON.parse(text.join('')) as Record<string, unknown>;
}

describe('the hourly schedule', () => {
  const [stateMachineId] = meteringStateMachine(template);

  test(`starts the metering state machine at minute ${config.metering.scheduleMinute} of every hour (metering.scheduleMinute)`, () => {
    const [, schedule] = meteringSchedule(template, stateMachineId);
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: `cron(${config.metering.scheduleMinute} * * * ? *)`,
      State: 'ENABLED',
      Targets: [
        {
          Arn: { Ref: stateMachineId },
          DeadLetterConfig: { Arn: getAtt(deadLetterQueueId, 'Arn') },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
  });

  test('runs at the configured minute, 25, when it is not the default', () => {
    const [otherId] = meteringStateMachine(overridden.template);
    const [, schedule] = meteringSchedule(overridden.template, otherId);
    expect(schedule.Properties['ScheduleExpression']).toBe('cron(25 * * * ? *)');
  });
});

describe('the metering state machine', () => {
  const [stateMachineId, stateMachine] = meteringStateMachine(template);
  const definition = definitionOf(stateMachine) as {
    StartAt: string;
    States: Record<string, Record<string, unknown>>;
  };
  const run = definition.States[definition.StartAt]!;

  test("invokes the metering function with the schedule's event, again for as long as a run hands over", () => {
    expect(run).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: meteringIds.functionId, 'Payload.$': '$$.Execution.Input' },
      ResultPath: '$.run',
      Next: 'HandedOver',
    });
    expect(definition.States['HandedOver']).toMatchObject({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.run.Payload.handOver', IsPresent: true },
            { Variable: '$.run.Payload.handOver', BooleanEquals: true },
          ],
          Next: definition.StartAt,
        },
      ],
      Default: 'Metered',
    });
    expect(definition.States['Metered']).toEqual({ Type: 'Succeed' });
  });

  test('waits while another run holds the function, and retries a failed run twice before failing', () => {
    expect(run['Retry']).toEqual([
      expect.objectContaining({
        ErrorEquals: ['Lambda.TooManyRequestsException'],
        MaxAttempts: 100,
        MaxDelaySeconds: 60,
      }),
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 2 },
    ]);
  });

  test('is traced and logs every state, without the execution data', () => {
    expect(stateMachine.Properties).toMatchObject({
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: false },
    });
  });

  test("logs under /aws/vendedlogs/ (kept out of the account's CloudWatch Logs resource policy), named per stack", () => {
    const logging = stateMachine.Properties['LoggingConfiguration'] as {
      Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [string, string] } } }[];
    };
    const [logGroupId] = logging.Destinations[0]!.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'];
    expect(resourceNamed(template, logGroupId).Properties['LogGroupName']).toEqual({
      'Fn::Join': [
        '',
        [
          '/aws/vendedlogs/states/SaasMarketplace-metering-run-',
          { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
        ],
      ],
    });
  });

  test('may invoke the metering function, and is the only thing that does', () => {
    const roleId = (stateMachine.Properties['RoleArn'] as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    expect(permissionsOf(template, roleId).filter((permission) => permission.startsWith('lambda:'))).toEqual([
      `lambda:InvokeFunction on ${on(getAtt(meteringIds.functionId, 'Arn'))}`,
      `lambda:InvokeFunction on ${on({ 'Fn::Join': ['', [getAtt(meteringIds.functionId, 'Arn'), ':*']] })}`,
    ]);
    expect(invokersOf(meteringIds.functionId)).toEqual([]);
    template.resourcePropertiesCountIs(
      'AWS::Lambda::EventSourceMapping',
      { FunctionName: { Ref: meteringIds.functionId } },
      0,
    );
    expect(stateMachineId).toBeTruthy();
  });
});

describe('the final-metering function', () => {
  const properties = propertiesOf(template, finalMeteringIds.functionId);
  const busId = logicalIdOf(stack.sellerEvents.bus);
  const endingRuleId = subscriberEndingRuleId();
  const ending = resourceNamed(template, endingRuleId);

  test('runs one at a time, up to 3 minutes, and never waits behind an hourly run', () => {
    expect(properties).toMatchObject({ ReservedConcurrentExecutions: 1, Timeout: 180, MemorySize: 512 });
    expect(finalMeteringIds.functionId).not.toBe(meteringIds.functionId);
  });

  test('queries the ending index, reads and settles buckets, reads subscribers, meters, dead-letters; nothing else', () => {
    const queue = on(getAtt(deadLetterQueueId, 'Arn'));
    const subscribers = getAtt(subscribersTableId, 'Arn');
    const usageTable = getAtt(usageTableId, 'Arn');
    expect(permissionsOf(template, finalMeteringIds.roleId)).toEqual(
      [
        ...writesOwnLogs(finalMetering),
        ...sendsTraces,
        `dynamodb:Query on ${on({ 'Fn::Join': ['', [subscribers, '/index/ending']] })}`,
        `dynamodb:Query on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:GetItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:UpdateItem on ${on(usageTable)} for items USAGE#*`,
        `dynamodb:GetItem on ${on(subscribers)} for items SUBSCRIBER#*`,
        'aws-marketplace:BatchMeterUsage on "*"',
        `sqs:SendMessage on ${queue}`,
        `sqs:GetQueueAttributes on ${queue}`,
        `sqs:GetQueueUrl on ${queue}`,
      ].sort(),
    );
  });

  test('is told what the metering function is told, the final-hour margin included', () => {
    const tables = { [subscribersTableId]: 'Subscribers', [usageTableId]: 'Usage' };
    const { POWERTOOLS_SERVICE_NAME: ownName, ...own } = deployedVariables(
      template,
      finalMeteringIds.functionId,
      tables,
    );
    const { POWERTOOLS_SERVICE_NAME: hourlyName, ...hourly } = deployedVariables(
      template,
      meteringIds.functionId,
      tables,
    );
    expect([ownName, hourlyName]).toEqual(['final-metering', 'metering']);
    expect(own).toEqual(hourly);
    expect(meteringEnvironment.parse(own).METERING.finalHourMarginMinutes).toBe(config.metering.finalHourMarginMinutes);
  });

  test('runs every minute, so that a final hour goes out when due and a failed send is retried in its window', () => {
    const [scheduleId, schedule] = meteringSchedule(template, finalMeteringIds.functionId);
    expect(schedule.Properties).toMatchObject({
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: getAtt(finalMeteringIds.functionId, 'Arn'),
          DeadLetterConfig: { Arn: getAtt(deadLetterQueueId, 'Arn') },
        },
      ],
    });
    expect(invokersOf(finalMeteringIds.functionId)).toEqual(
      [on(getAtt(scheduleId, 'Arn')), on(getAtt(endingRuleId, 'Arn'))].sort(),
    );
  });

  test('starts at once on every Subscriber Ending event of the configured source on the seller bus', () => {
    expect(ending.Properties).toMatchObject({
      EventBusName: { Ref: busId },
      EventPattern: { source: [eventSource], 'detail-type': [SELLER_EVENT.ending] },
      State: 'ENABLED',
      Targets: [
        {
          Arn: getAtt(finalMeteringIds.functionId, 'Arn'),
          // An event EventBridge cannot hand over waits in the metering dead-letter queue instead of being lost.
          DeadLetterConfig: { Arn: getAtt(deadLetterQueueId, 'Arn') },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
        },
      ],
    });
    expect(Object.keys(ending.Properties['EventPattern'] as object).sort()).toEqual(['detail-type', 'source']);
  });

  test('matches the event the seller notifier publishes when a subscription starts ending, naming the subscriber', async () => {
    const endingEvent = await subscriptionEnding();
    const [entry, ...others] = await publishedEntries([endingEvent.record], eventSource);
    expect(others).toEqual([]);
    const event = { source: entry?.Source, 'detail-type': entry?.DetailType };
    const pattern = ending.Properties['EventPattern'] as Record<string, unknown[]>;
    for (const [field, accepted] of Object.entries(pattern)) {
      expect(accepted, field).toContain(event[field as keyof typeof event]);
    }
    // What the metering handler reads to meter that subscriber alone.
    expect((JSON.parse(entry?.Detail ?? '{}') as { subscriberId?: unknown }).subscriberId).toBe(
      endingEvent.subscriberId,
    );
  });

  test('is started by its schedule and its rule alone', () => {
    template.resourcePropertiesCountIs(
      'AWS::Lambda::EventSourceMapping',
      { FunctionName: { Ref: finalMeteringIds.functionId } },
      0,
    );
  });
});

describe('a run that fails', () => {
  const invokeConfigOf = (functionId: string) =>
    Object.values(resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig'))
      .filter((resource) => on(resource.Properties['FunctionName']) === on({ Ref: functionId }))
      .map((resource) => resource.Properties);

  test("of the hourly metering is its state machine's to retry: the function has no asynchronous invoke settings", () => {
    expect(invokeConfigOf(meteringIds.functionId)).toEqual([]);
  });

  test('of final metering is not retried (the next minute does the same work) and goes to the same queue', () => {
    expect(invokeConfigOf(finalMeteringIds.functionId)).toEqual([
      {
        FunctionName: { Ref: finalMeteringIds.functionId },
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 3600,
        DestinationConfig: { OnFailure: { Destination: getAtt(deadLetterQueueId, 'Arn') } },
      },
    ]);
  });

  test('waits in an encrypted, TLS-only queue for 14 days, with an alarm and its URL as an output', () => {
    expect(propertiesOf(template, deadLetterQueueId)).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    const [policy, ...otherPolicies] = Object.values(resourcesOfType(template, 'AWS::SQS::QueuePolicy')).filter(
      (candidate) => JSON.stringify(candidate.Properties['Queues']) === JSON.stringify([{ Ref: deadLetterQueueId }]),
    );
    expect(otherPolicies).toEqual([]);
    const statements = (policy?.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement;
    expect(statements).toContainEqual({
      Effect: 'Deny',
      Action: 'sqs:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      Principal: { AWS: '*' },
      Resource: getAtt(deadLetterQueueId, 'Arn'),
    });
    // Besides the TLS rule, only the three rules that invoke the functions may put what they cannot deliver here.
    const [scheduleId] = meteringSchedule(template, meteringStateMachine(template)[0]);
    const [finalScheduleId] = meteringSchedule(template, finalMeteringIds.functionId);
    const allowed = statements.filter((statement) => statement['Effect'] === 'Allow');
    expect(allowed.map((statement) => statement['Principal'])).toEqual(
      Array.from({ length: 3 }, () => ({ Service: 'events.amazonaws.com' })),
    );
    expect(allowed.map((statement) => statement['Action'])).toEqual(Array.from({ length: 3 }, () => 'sqs:SendMessage'));
    expect(
      allowed
        .map((statement) =>
          on((statement['Condition'] as { ArnEquals: Record<string, unknown> }).ArnEquals['aws:SourceArn']),
        )
        .sort(),
    ).toEqual(
      [scheduleId, finalScheduleId, subscriberEndingRuleId()].map((ruleId) => on(getAtt(ruleId, 'Arn'))).sort(),
    );
    expect(alarmNamed(template, 'metering-dead-letters')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: getAtt(deadLetterQueueId, 'QueueName') }],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    template.hasOutput('MeteringDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
  });
});

describe('the alarms', () => {
  const meteringVariables = variablesOf(template, meteringIds.functionId);

  test('metering-failed goes off on any hourly run that failed after its retries (a failed state machine execution)', () => {
    expect(alarmNamed(template, 'metering-failed')).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: meteringStateMachine(template)[0] } }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('usage-crashed goes off on any crash of the usage function', () => {
    expect(alarmNamed(template, 'usage-crashed')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: usageIds.functionId } }],
      Statistic: 'Sum',
      Threshold: 0,
    });
  });

  test('metering-rejected goes off on any record Marketplace refused in an hour', () => {
    expect(alarmNamed(template, 'metering-rejected')).toMatchObject({
      Namespace: namespace,
      MetricName: METERING_METRICS.rejected,
      Dimensions: [{ Name: 'service', Value: 'metering' }],
      Statistic: 'Sum',
      Period: 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('metering-behind goes off when the oldest pending usage is older than half the acceptance window', () => {
    expect(alarmNamed(template, 'metering-behind')).toMatchObject({
      Namespace: namespace,
      MetricName: METERING_METRICS.oldestPendingAge,
      Dimensions: [{ Name: 'service', Value: 'metering' }],
      Statistic: 'Maximum',
      Period: 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: (config.metering.acceptanceWindowHours / 2) * 3600,
    });
  });

  test('final-metering-failed goes off on any failed run of the final-metering function', () => {
    expect(alarmNamed(template, 'final-metering-failed')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: finalMeteringIds.functionId } }],
      Threshold: 0,
    });
  });

  test.each([
    ['final-metering-missed', METERING_METRICS.finalDeadlineMissed],
    ['metering-unconfirmed-send', METERING_METRICS.unconfirmedSends],
  ])('%s goes off on any record of %s in an hour', (name, metricName) => {
    expect(alarmNamed(template, name)).toMatchObject({
      Namespace: namespace,
      MetricName: metricName,
      Dimensions: [{ Name: 'service', Value: 'metering' }],
      Statistic: 'Sum',
      Period: 3600,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
  });

  test('metering-behind halves a configured window of 3 hours to 1.5 hours, in seconds', () => {
    expect(alarmNamed(overridden.template, 'metering-behind')['Threshold']).toBe(1.5 * 3600);
  });

  test("watch the run's metrics where the function publishes them: its namespace, under its service name", () => {
    for (const name of ['metering-rejected', 'metering-behind', 'final-metering-missed', 'metering-unconfirmed-send']) {
      const alarm = alarmNamed(template, name);
      expect(alarm['Namespace'], name).toBe(meteringVariables['METRICS_NAMESPACE']);
      // Powertools Metrics adds the `service` dimension, from the service name (POWERTOOLS_SERVICE_NAME).
      expect(alarm['Dimensions'], name).toEqual([
        { Name: 'service', Value: meteringVariables['POWERTOOLS_SERVICE_NAME'] },
      ]);
    }
  });
});

describe('the dashboard', () => {
  /** The dashboard body as deployed, each reference standing in for the logical id (or region) it names. */
  function dashboardOf(source: Template) {
    const dashboards = Object.values(resourcesOfType(source, 'AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = (dashboards[0] as CfnResource).Properties['DashboardBody'] as { 'Fn::Join': ['', unknown[]] };
    const text = body['Fn::Join'][1]
      .map((part) => {
        if (typeof part === 'string') return part;
        const { Ref, 'Fn::GetAtt': attribute } = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
        if (Ref === 'AWS::Region') return 'us-east-1';
        return Ref ?? attribute?.[0];
      })
      .join('');
    return JSON.parse(text) as {
      widgets: {
        properties: {
          metrics?: unknown[][];
          annotations?: { horizontal?: { value: number }[] };
        };
      }[];
    };
  }

  /** Every metric graphed, as `<namespace> <name> <dimension>=<value>...`, and every math expression. */
  function graphed(source: Template) {
    const metrics = dashboardOf(source).widgets.flatMap((widget) => widget.properties.metrics ?? []);
    const plain = metrics
      .filter((metric) => typeof metric[0] === 'string')
      .map((metric) => {
        const [ns, name, ...rest] = metric.filter((part): part is string => typeof part === 'string');
        const dimensions = rest.flatMap((part, position) =>
          position % 2 === 0 ? [`${part}=${rest[position + 1]}`] : [],
        );
        return [ns, name, ...dimensions].join(' ');
      });
    const expressions = metrics
      .map((metric) => (metric[0] as { expression?: string }).expression)
      .filter((expression): expression is string => expression !== undefined);
    return { plain, expressions };
  }

  test('graphs every metric the run publishes, in its namespace under its service, and none it does not', () => {
    const ownMetrics = graphed(template)
      .plain.filter((metric) => metric.startsWith(`${namespace} `))
      .map((metric) => {
        expect(metric.endsWith(' service=metering'), metric).toBe(true);
        return metric.split(' ')[1];
      });
    expect([...new Set(ownMetrics)].sort()).toEqual(Object.values(METERING_METRICS).sort());
  });

  test('graphs rejected records by reason, and the errors of the three functions and the dead-letter queue', () => {
    const { plain, expressions } = graphed(template);
    expect(expressions).toEqual([
      `SEARCH('{${namespace},Reason,service} MetricName="${METERING_METRICS.rejected}"', 'Sum', 3600)`,
    ]);
    expect(plain).toEqual(
      expect.arrayContaining([
        `AWS/Lambda Errors FunctionName=${usageIds.functionId}`,
        `AWS/Lambda Errors FunctionName=${meteringIds.functionId}`,
        `AWS/Lambda Errors FunctionName=${finalMeteringIds.functionId}`,
        `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=${deadLetterQueueId}`,
      ]),
    );
  });

  test('marks where the acceptance window ends, as configured', () => {
    const annotations = (source: Template) =>
      dashboardOf(source).widgets.flatMap((widget) => widget.properties.annotations?.horizontal ?? []);
    expect(annotations(template).map((annotation) => annotation.value)).toEqual([
      config.metering.acceptanceWindowHours * 3600,
    ]);
    expect(annotations(overridden.template).map((annotation) => annotation.value)).toEqual([3 * 3600]);
  });
});

describe('the outputs', () => {
  test('give where the seller app records usage, the ARN its policy allows, and the dead-letter queue', () => {
    const outputs = template.toJSON()['Outputs'] as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs['UsageUrl']?.Value)).toMatch(/\/usage"\]\]\}$/);
    expect(JSON.stringify(outputs['UsageInvokeArn']?.Value)).toMatch(/\/prod\/POST\/usage"\]\]\}$/);
    expect(outputs['MeteringDeadLetterQueueUrl']?.Value).toEqual({ Ref: deadLetterQueueId });
  });
});
