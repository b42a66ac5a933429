import { describe, expect, test } from 'vitest';
import { sessionKey, subscriberKey } from '../../lambdas/core/table-keys.ts';
import { apiRoutes } from '../../lib/api-routes.ts';
import { configFromContext, parseConfig } from '../../lib/config.ts';
import { cdkJsonContext } from '../../local/config.ts';
import { filterMatches, publishedEntries, subscribersStream } from './registration-stream.ts';
import {
  customDomain,
  functionIds,
  getAtt,
  hostedZone,
  logicalIdOf,
  projectFunction,
  resourceNamed,
  resourcesOfType,
  synthesize,
  type CfnResource,
  type FunctionId,
} from './synthesis.ts';
import type { Template } from 'aws-cdk-lib/assertions';

/** Values unlike the defaults, so that a test can tell the configuration's value from a hard-coded one. */
const distinctive = {
  'marketplace.marketplaceRegion': 'eu-west-1',
  'marketplace.events.source': 'acme.saas-marketplace',
  'marketplace.api.throttling': { rateLimit: 7, burstLimit: 13 },
};
const config = parseConfig(configFromContext({ ...cdkJsonContext(), ...distinctive }));

const { stack, template } = synthesize(distinctive);
const subscribersTableId = logicalIdOf(stack.storage.subscribers);
const apiId = logicalIdOf(stack.registration.api);
const stageId = logicalIdOf(stack.registration.api.deploymentStage);
const deadLetterQueueId = logicalIdOf(stack.registration.notifierDeadLetterQueue);
const sellerBusId = logicalIdOf(stack.sellerEvents.bus);

const functionLogicalId = (id: FunctionId) => logicalIdOf(projectFunction(stack, id).lambda);
const functionResource = (id: FunctionId) => resourceNamed(template, functionLogicalId(id));
const logGroupId = (id: FunctionId) => logicalIdOf(projectFunction(stack, id).node.findChild('Logs'));
const roleId = (id: FunctionId) => logicalIdOf(projectFunction(stack, id).node.findChild('Role'));

function onlyResourceOfType(source: Template, type: string): [string, CfnResource] {
  const found = Object.entries(resourcesOfType(source, type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as [string, CfnResource];
}

describe('the REST API', () => {
  test('is regional', () => {
    expect(resourceNamed(template, apiId).Properties['EndpointConfiguration']).toEqual({ Types: ['REGIONAL'] });
  });

  test('serves the routes of lib/api-routes.ts (the local gateway serves the same) as public Lambda proxies', () => {
    const pathParts = new Map(
      Object.entries(resourcesOfType(template, 'AWS::ApiGateway::Resource')).map(([id, resource]) => [
        id,
        resource.Properties['PathPart'],
      ]),
    );
    const routes = Object.values(resourcesOfType(template, 'AWS::ApiGateway::Method')).map((method) => {
      const { HttpMethod, ResourceId, AuthorizationType, Integration } = method.Properties as {
        HttpMethod: string;
        ResourceId: { Ref: string };
        AuthorizationType: string;
        Integration: { Type: string; IntegrationHttpMethod: string; Uri: unknown };
      };
      const target = functionIds.find((id) =>
        JSON.stringify(Integration.Uri).includes(JSON.stringify(getAtt(functionLogicalId(id), 'Arn'))),
      );
      return {
        route: `${HttpMethod} /${String(pathParts.get(ResourceId.Ref))}`,
        target,
        authorization: AuthorizationType,
        integration: `${Integration.Type} ${Integration.IntegrationHttpMethod}`,
      };
    });
    expect(routes.sort((a, b) => a.route.localeCompare(b.route))).toEqual([
      { route: 'ANY /fulfillment', target: 'Fulfillment', authorization: 'NONE', integration: 'AWS_PROXY POST' },
      { route: 'ANY /register', target: 'RegistrationPage', authorization: 'NONE', integration: 'AWS_PROXY POST' },
    ]);
    expect(apiRoutes.map((route) => `ANY ${route.path}`).sort()).toEqual(routes.map((route) => route.route));
  });
});

describe('the API stage', () => {
  const stage = resourceNamed(template, stageId);

  test('throttles every method with the configured limits and logs errors without request data', () => {
    expect(stage.Properties['MethodSettings']).toEqual([
      {
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 7,
        ThrottlingBurstLimit: 13,
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
      },
    ]);
  });

  describe('access log', () => {
    const { DestinationArn, Format } = stage.Properties['AccessLogSetting'] as {
      DestinationArn: unknown;
      Format: string;
    };

    test('is one JSON object per request with who, what, outcome and timing', () => {
      const fields = JSON.parse(Format) as Record<string, string>;
      expect(Object.keys(fields)).toEqual(
        expect.arrayContaining(['requestId', 'ip', 'userAgent', 'method', 'resourcePath', 'status', 'latency']),
      );
      for (const [name, variable] of Object.entries(fields)) expect(variable, name).toMatch(/^\$context\.[\w.]+$/);
    });

    test('carries no body, query string, header or cookie (where the token and the session travel)', () => {
      expect(Format).not.toMatch(/\$input|\$method\.request|\$request\.|body|querystring|header|cookie|override/i);
    });

    test('goes to a log group of the stack that expires its lines', () => {
      const [logGroupId, logGroup] = Object.entries(resourcesOfType(template, 'AWS::Logs::LogGroup')).find(([id]) =>
        JSON.stringify(DestinationArn).includes(JSON.stringify({ Ref: id })),
      ) ?? [undefined, undefined];
      expect(logGroupId).toBeDefined();
      expect(logGroup?.Properties['RetentionInDays']).toBeGreaterThan(0);
    });
  });

  test("exists only once API Gateway's execution log group, which expires its lines, does", () => {
    const [executionLogsId, executionLogs] = Object.entries(resourcesOfType(template, 'AWS::Logs::LogGroup')).find(
      ([, resource]) =>
        JSON.stringify(resource.Properties['LogGroupName'] ?? '').includes('API-Gateway-Execution-Logs_'),
    ) ?? ['', undefined];
    expect(executionLogs?.Properties).toEqual({
      LogGroupName: { 'Fn::Join': ['', ['API-Gateway-Execution-Logs_', { Ref: apiId }, '/prod']] },
      RetentionInDays: expect.any(Number) as unknown,
    });
    expect(stage.DependsOn).toContain(executionLogsId);
  });

  test("waits for the account's API Gateway logging role, which outlives the stack", () => {
    const [accountId, account] = onlyResourceOfType(template, 'AWS::ApiGateway::Account');
    const roleArn = account.Properties['CloudWatchRoleArn'] as { 'Fn::GetAtt': [string, string] };
    const role = resourceNamed(template, roleArn['Fn::GetAtt'][0]);
    expect(stage.DependsOn).toContain(accountId);
    expect([account.DeletionPolicy, role.DeletionPolicy]).toEqual(['Retain', 'Retain']);
  });
});

describe.each(functionIds)('the %s function', (id) => {
  const properties = () => functionResource(id).Properties;

  test('runs Node.js 24 on arm64', () => {
    expect(properties()).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
  });

  test('logs to a log group of its own that expires its lines', () => {
    expect(properties()['LoggingConfig']).toEqual({ LogGroup: { Ref: logGroupId(id) } });
    expect(resourceNamed(template, logGroupId(id)).Properties['RetentionInDays']).toBeGreaterThan(0);
  });

  test('runs as a role of its own with no managed policy', () => {
    expect(properties()['Role']).toEqual(getAtt(roleId(id), 'Arn'));
    const role = resourceNamed(template, roleId(id)).Properties;
    expect(role['ManagedPolicyArns']).toBeUndefined();
    expect(role['Policies']).toBeUndefined();
  });
});

describe('environment variables', () => {
  const variables = (id: FunctionId) =>
    (functionResource(id).Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
  const products = config.products.map(({ code, name, identityModel }) => ({ code, name, identityModel }));
  const platform = (serviceName: string) => ({
    POWERTOOLS_SERVICE_NAME: serviceName,
    NODE_OPTIONS: '--enable-source-maps',
  });

  test('the fulfillment function gets the table, the Marketplace region, the products and the page settings', () => {
    const { PRODUCTS, REGISTRATION, ...rest } = variables('Fulfillment');
    expect(JSON.parse(PRODUCTS as string)).toEqual(products);
    expect(JSON.parse(REGISTRATION as string)).toEqual(config.registration);
    expect(rest).toEqual({
      SUBSCRIBERS_TABLE: { Ref: subscribersTableId },
      MARKETPLACE_REGION: 'eu-west-1',
      ...platform('fulfillment'),
    });
  });

  test('the registration page gets the table, the products and the page settings', () => {
    const { PRODUCTS, REGISTRATION, ...rest } = variables('RegistrationPage');
    expect(JSON.parse(PRODUCTS as string)).toEqual(products);
    expect(JSON.parse(REGISTRATION as string)).toEqual(config.registration);
    expect(rest).toEqual({ SUBSCRIBERS_TABLE: { Ref: subscribersTableId }, ...platform('registration-page') });
  });

  test('the registration notifier gets the seller bus and the configured event source', () => {
    expect(variables('RegistrationNotifier')).toEqual({
      EVENT_BUS_NAME: { Ref: sellerBusId },
      EVENT_SOURCE: 'acme.saas-marketplace',
      ...platform('registration-notifier'),
    });
  });
});

describe('IAM', () => {
  interface Statement {
    readonly Effect: string;
    readonly Action: string | string[];
    readonly Resource: unknown;
    readonly Condition?: Record<string, Record<string, unknown>>;
  }
  const asList = <T>(value: T | T[]) => (Array.isArray(value) ? value : [value]);

  function statementsOf(id: FunctionId): Statement[] {
    const role = { Ref: roleId(id) };
    return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
      .filter((policy) =>
        (policy.Properties['Roles'] as unknown[]).some((attached) => JSON.stringify(attached) === JSON.stringify(role)),
      )
      .flatMap((policy) => (policy.Properties['PolicyDocument'] as { Statement: Statement[] }).Statement);
  }

  /**
   * The items a statement confines its actions to, by the `dynamodb:LeadingKeys` patterns every partition key of a
   * request must match (`ForAllValues:StringLike`, the key required: `Null` false); no other condition is expected.
   */
  function partitionKeyPatterns(statement: Statement): string[] | undefined {
    if (statement.Condition === undefined) return undefined;
    expect(statement.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': expect.any(Array) as unknown },
      Null: { 'dynamodb:LeadingKeys': 'false' },
    });
    return statement.Condition['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] as string[];
  }

  /** Every (action, resource, items) the role's policies allow, as readable strings. */
  function permissionsOf(id: FunctionId): string[] {
    return statementsOf(id)
      .flatMap((statement) => {
        expect(statement.Effect).toBe('Allow');
        const patterns = partitionKeyPatterns(statement);
        const items = patterns === undefined ? '' : ` for items ${patterns.join(' or ')}`;
        return asList(statement.Action).flatMap((action) =>
          asList(statement.Resource).map((resource) => `${action} on ${JSON.stringify(resource)}${items}`),
        );
      })
      .sort();
  }

  /** Whether IAM's `StringLike` matches: `*` any run of characters, `?` any one, the rest literally. */
  function stringLike(pattern: string, value: string): boolean {
    const expression = pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.');
    return new RegExp(`^${expression}$`, 's').test(value);
  }

  /** Whether the role may do `action` on the Subscribers table item with this partition key. */
  function mayOnItem(id: FunctionId, action: string, partitionKey: string): boolean {
    return statementsOf(id).some((statement) => {
      const onTable = asList(statement.Resource).some(
        (resource) => JSON.stringify(resource) === JSON.stringify(getAtt(subscribersTableId, 'Arn')),
      );
      const patterns = partitionKeyPatterns(statement);
      return (
        onTable &&
        asList(statement.Action).includes(action) &&
        (patterns === undefined || patterns.some((pattern) => stringLike(pattern, partitionKey)))
      );
    });
  }

  const on = (resource: unknown) => JSON.stringify(resource);
  const table = on(getAtt(subscribersTableId, 'Arn'));
  const writesOwnLogs = (id: FunctionId) => [
    `logs:CreateLogStream on ${on(getAtt(logGroupId(id), 'Arn'))}`,
    `logs:PutLogEvents on ${on(getAtt(logGroupId(id), 'Arn'))}`,
  ];
  /** Keys as the runtime code builds them (`lambdas/core/table-keys.ts`). */
  const subscriberItem = subscriberKey('license:arn:aws:license-manager::111122223333:license:l-0123').pk;
  const sessionItem = sessionKey('S2Fn0rR7uJ7m9r3Jb0Xr9dVq4bq8bVt3Xh2dWd3Xq5E').pk;

  test('the fulfillment function updates subscribers, puts sessions and resolves customers, nothing else', () => {
    expect(permissionsOf('Fulfillment')).toEqual(
      [
        ...writesOwnLogs('Fulfillment'),
        `dynamodb:UpdateItem on ${table} for items SUBSCRIBER#*`,
        `dynamodb:PutItem on ${table} for items SESSION#*`,
        'aws-marketplace:ResolveCustomer on "*"',
      ].sort(),
    );
  });

  test('the fulfillment function may write the items its code writes and no other kind', () => {
    expect(mayOnItem('Fulfillment', 'dynamodb:UpdateItem', subscriberItem)).toBe(true);
    expect(mayOnItem('Fulfillment', 'dynamodb:PutItem', sessionItem)).toBe(true);
    expect(mayOnItem('Fulfillment', 'dynamodb:UpdateItem', sessionItem)).toBe(false);
    expect(mayOnItem('Fulfillment', 'dynamodb:PutItem', subscriberItem)).toBe(false);
    expect(mayOnItem('Fulfillment', 'dynamodb:PutItem', 'USAGE#anything')).toBe(false);
  });

  test('the registration page gets subscribers and sessions and updates subscribers, nothing else', () => {
    expect(permissionsOf('RegistrationPage')).toEqual(
      [
        ...writesOwnLogs('RegistrationPage'),
        `dynamodb:GetItem on ${table} for items SUBSCRIBER#* or SESSION#*`,
        `dynamodb:UpdateItem on ${table} for items SUBSCRIBER#*`,
      ].sort(),
    );
  });

  test('the registration page may read and write the items its code does and no other kind', () => {
    expect(mayOnItem('RegistrationPage', 'dynamodb:GetItem', subscriberItem)).toBe(true);
    expect(mayOnItem('RegistrationPage', 'dynamodb:GetItem', sessionItem)).toBe(true);
    expect(mayOnItem('RegistrationPage', 'dynamodb:UpdateItem', subscriberItem)).toBe(true);
    expect(mayOnItem('RegistrationPage', 'dynamodb:UpdateItem', sessionItem)).toBe(false);
    expect(mayOnItem('RegistrationPage', 'dynamodb:GetItem', 'USAGE#anything')).toBe(false);
  });

  test('the registration notifier reads the stream, puts events on the seller bus and dead-letters, nothing else', () => {
    const stream = on(getAtt(subscribersTableId, 'StreamArn'));
    const queue = on(getAtt(deadLetterQueueId, 'Arn'));
    expect(permissionsOf('RegistrationNotifier')).toEqual(
      [
        ...writesOwnLogs('RegistrationNotifier'),
        `dynamodb:DescribeStream on ${stream}`,
        `dynamodb:GetRecords on ${stream}`,
        `dynamodb:GetShardIterator on ${stream}`,
        `dynamodb:ListStreams on ${stream}`,
        `events:PutEvents on ${on(getAtt(sellerBusId, 'Arn'))}`,
        `sqs:GetQueueAttributes on ${queue}`,
        `sqs:GetQueueUrl on ${queue}`,
        `sqs:SendMessage on ${queue}`,
      ].sort(),
    );
  });
});

describe('the registration notifier stream mapping', () => {
  const [, mapping] = onlyResourceOfType(template, 'AWS::Lambda::EventSourceMapping');
  const { FilterCriteria, ...settings } = mapping.Properties as { FilterCriteria: { Filters: { Pattern: string }[] } };
  const patterns = FilterCriteria.Filters.map((filter) => JSON.parse(filter.Pattern) as unknown);
  const passes = (record: unknown) => patterns.some((pattern) => filterMatches(pattern, record));

  test('reads the Subscribers stream in small batches, retrying only the records that failed', () => {
    expect(settings).toMatchObject({
      EventSourceArn: getAtt(subscribersTableId, 'StreamArn'),
      FunctionName: { Ref: functionLogicalId('RegistrationNotifier') },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
    });
  });

  test("retries a record until it is 12 hours old (half the stream's retention), then dead-letters it", () => {
    // Unset is Lambda's default, -1: retry until the record is too old. A retry count would dead-letter every
    // registration a few minutes into an EventBridge outage.
    expect([undefined, -1]).toContain((settings as Record<string, unknown>)['MaximumRetryAttempts']);
    expect(settings).toMatchObject({
      MaximumRecordAgeInSeconds: 12 * 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(deadLetterQueueId, 'Arn') } },
    });
  });

  test('lets through the write that completes a registration, which the notifier publishes', async () => {
    const stream = await subscribersStream();
    expect(passes(stream.registrationCompleted)).toBe(true);
    expect(await publishedEntries([stream.registrationCompleted], config.events.source)).toHaveLength(1);
  });

  test('holds back writes that are not a registration', async () => {
    const { others } = await subscribersStream();
    for (const [write, record] of Object.entries(others)) expect(passes(record), write).toBe(false);
  });

  test('dead-letters into an encrypted, TLS-only queue that keeps messages 14 days', () => {
    expect(resourceNamed(template, deadLetterQueueId).Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: deadLetterQueueId }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: { AWS: '*' },
            Resource: getAtt(deadLetterQueueId, 'Arn'),
          },
        ],
      },
    });
  });
});

describe('outputs', () => {
  const stageUrl = (path: string) => ({
    'Fn::Join': [
      '',
      [
        'https://',
        { Ref: apiId },
        '.execute-api.',
        { Ref: 'AWS::Region' },
        '.',
        { Ref: 'AWS::URLSuffix' },
        '/',
        { Ref: stageId },
        `/${path}`,
      ],
    ],
  });

  test('give the stage URLs of the fulfillment URL and the registration page', () => {
    template.hasOutput('FulfillmentUrl', { Value: stageUrl('fulfillment') });
    template.hasOutput('RegistrationUrl', { Value: stageUrl('register') });
  });

  test('give the URL of the dead-letter queue', () => {
    template.hasOutput('RegistrationNotifierDeadLetterQueueUrl', { Value: { Ref: deadLetterQueueId } });
  });
});

describe('the web firewall', () => {
  test('is absent while WAF is off', () => {
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  test('when on, blocks an IP address over the configured rate and guards the stage', () => {
    const { stack: wafStack, template: wafTemplate } = synthesize({
      'marketplace.api.waf': { enabled: true, requestsPerFiveMinutes: 1234 },
    });
    const [webAclId, webAcl] = onlyResourceOfType(wafTemplate, 'AWS::WAFv2::WebACL');
    expect(webAcl.Properties).toMatchObject({
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        {
          Action: { Block: expect.anything() as unknown },
          Statement: { RateBasedStatement: { Limit: 1234, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        },
      ],
    });
    const [, association] = onlyResourceOfType(wafTemplate, 'AWS::WAFv2::WebACLAssociation');
    const stageArn = JSON.stringify(association.Properties['ResourceArn']);
    expect(stageArn).toContain(JSON.stringify({ Ref: logicalIdOf(wafStack.registration.api.deploymentStage) }));
    expect(stageArn).toContain(JSON.stringify({ Ref: logicalIdOf(wafStack.registration.api) }));
    expect(association.Properties['WebACLArn']).toEqual(getAtt(webAclId, 'Arn'));
  });
});

describe('the custom domain', () => {
  test('is absent unless configured', () => {
    for (const type of ['AWS::ApiGateway::DomainName', 'AWS::ApiGateway::BasePathMapping', 'AWS::Route53::RecordSet']) {
      template.resourceCountIs(type, 0);
    }
  });

  test('when absent, leaves the execute-api endpoint on: it is the only address of the pages', () => {
    expect(resourceNamed(template, apiId).Properties['DisableExecuteApiEndpoint']).toBeFalsy();
  });

  describe('configured without a hosted zone', () => {
    const { stack: domainStack, template: domainTemplate } = synthesize({
      'marketplace.api.customDomain': customDomain,
    });

    test('serves the stage at the root of a regional domain with the given certificate', () => {
      const [domainId, domain] = onlyResourceOfType(domainTemplate, 'AWS::ApiGateway::DomainName');
      expect(domain.Properties).toEqual({
        DomainName: customDomain.domainName,
        RegionalCertificateArn: customDomain.certificateArn,
        EndpointConfiguration: { Types: ['REGIONAL'] },
        SecurityPolicy: 'TLS_1_2',
      });
      const [, mapping] = onlyResourceOfType(domainTemplate, 'AWS::ApiGateway::BasePathMapping');
      expect(mapping.Properties).toEqual({
        DomainName: { Ref: domainId },
        RestApiId: { Ref: logicalIdOf(domainStack.registration.api) },
        Stage: { Ref: logicalIdOf(domainStack.registration.api.deploymentStage) },
      });
      domainTemplate.resourceCountIs('AWS::Route53::RecordSet', 0);
    });

    test('gives URLs on the domain', () => {
      domainTemplate.hasOutput('FulfillmentUrl', { Value: 'https://buy.example.com/fulfillment' });
      domainTemplate.hasOutput('RegistrationUrl', { Value: 'https://buy.example.com/register' });
    });

    test('turns the execute-api endpoint off, so the pages and their cookie live on the domain alone', () => {
      const api = resourceNamed(domainTemplate, logicalIdOf(domainStack.registration.api));
      expect(api.Properties['DisableExecuteApiEndpoint']).toBe(true);
      expect(JSON.stringify(domainTemplate.toJSON()['Outputs'])).not.toContain('execute-api');
    });
  });

  test('configured with a hosted zone, points the domain at the API with an alias record', () => {
    const { template: zoneTemplate } = synthesize({
      'marketplace.api.customDomain': { ...customDomain, ...hostedZone },
    });
    const [domainId] = onlyResourceOfType(zoneTemplate, 'AWS::ApiGateway::DomainName');
    const [, record] = onlyResourceOfType(zoneTemplate, 'AWS::Route53::RecordSet');
    expect(record.Properties).toEqual({
      HostedZoneId: hostedZone.hostedZoneId,
      Name: `${customDomain.domainName}.`,
      Type: 'A',
      AliasTarget: {
        DNSName: getAtt(domainId, 'RegionalDomainName'),
        HostedZoneId: getAtt(domainId, 'RegionalHostedZoneId'),
      },
    });
  });
});
