/**
 * The REST API: the routes of `lib/api-routes.ts`, public or IAM-authorized, each served by its capability's function;
 * the stage's throttling and logs; the outputs; the optional web firewall and custom domain.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { apiRoutes } from '../../lib/api-routes.ts';
import { partsOf } from './iam.ts';
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
} from './synthesis.ts';

/** Distinct limits for each kind of route, none the default, so that each must be read from its own setting. */
const throttling = {
  buyerPages: { rateLimit: 7, burstLimit: 13 },
  accessCheck: { rateLimit: 70, burstLimit: 130 },
  usage: { rateLimit: 700, burstLimit: 1300 },
};
const { stack, template } = synthesize({ 'marketplace.api.throttling': throttling });
const apiId = logicalIdOf(stack.api.restApi);
const stageId = logicalIdOf(stack.api.restApi.deploymentStage);

function onlyResourceOfType(source: Template, type: string): [string, CfnResource] {
  const found = Object.entries(resourcesOfType(source, type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0] as [string, CfnResource];
}

describe('the REST API', () => {
  test('is regional', () => {
    expect(resourceNamed(template, apiId).Properties['EndpointConfiguration']).toEqual({ Types: ['REGIONAL'] });
  });

  /** The full path of an API Gateway resource, from its parents. */
  function pathOf(resourceId: string): string {
    const resource = resourceNamed(template, resourceId).Properties as { ParentId: { Ref?: string }; PathPart: string };
    const parent = resource.ParentId.Ref === undefined ? '' : pathOf(resource.ParentId.Ref);
    return `${parent}/${resource.PathPart}`;
  }

  const routes = Object.values(resourcesOfType(template, 'AWS::ApiGateway::Method')).map((method) => {
    const { HttpMethod, ResourceId, AuthorizationType, Integration } = method.Properties as {
      HttpMethod: string;
      ResourceId: { Ref: string };
      AuthorizationType: string;
      Integration: { Type: string; IntegrationHttpMethod: string; Uri: unknown };
    };
    const target = functionIds.find((id) =>
      JSON.stringify(Integration.Uri).includes(
        JSON.stringify(getAtt(partsOf(projectFunction(stack, id)).functionId, 'Arn')),
      ),
    );
    return {
      route: `${HttpMethod} ${pathOf(ResourceId.Ref)}`,
      target,
      authorization: AuthorizationType,
      integration: `${Integration.Type} ${Integration.IntegrationHttpMethod}`,
    };
  });

  test('serves the routes of lib/api-routes.ts (the local gateway serves the same) as Lambda proxies', () => {
    expect(routes.sort((a, b) => a.route.localeCompare(b.route))).toEqual([
      { route: 'ANY /fulfillment', target: 'Fulfillment', authorization: 'NONE', integration: 'AWS_PROXY POST' },
      { route: 'ANY /register', target: 'RegistrationPage', authorization: 'NONE', integration: 'AWS_PROXY POST' },
      {
        route: 'ANY /subscribers/{id}',
        target: 'SubscriberAccess',
        authorization: 'AWS_IAM',
        integration: 'AWS_PROXY POST',
      },
      { route: 'ANY /usage', target: 'Usage', authorization: 'AWS_IAM', integration: 'AWS_PROXY POST' },
    ]);
    expect(apiRoutes.map((route) => `ANY ${route.path}`).sort()).toEqual(routes.map((route) => route.route));
  });

  test('authorizes exactly the routes lib/api-routes.ts marks iam with IAM, and leaves the others public', () => {
    for (const route of apiRoutes) {
      const served = routes.find((candidate) => candidate.route === `ANY ${route.path}`);
      expect(served?.authorization, route.path).toBe(route.authorization === 'iam' ? 'AWS_IAM' : 'NONE');
    }
  });
});

describe('the API stage', () => {
  const stage = resourceNamed(template, stageId);

  test("throttles each route's methods with the limits of its kind, the strictest for any other, and logs errors without request data", () => {
    const setting = (ResourcePath: string, { rateLimit, burstLimit }: { rateLimit: number; burstLimit: number }) => ({
      HttpMethod: '*',
      ResourcePath,
      ThrottlingRateLimit: rateLimit,
      ThrottlingBurstLimit: burstLimit,
      LoggingLevel: 'ERROR',
      DataTraceEnabled: false,
    });
    expect(stage.Properties['MethodSettings']).toEqual([
      setting('/*', throttling.buyerPages),
      setting('/~1fulfillment', throttling.buyerPages),
      setting('/~1register', throttling.buyerPages),
      setting('/~1subscribers~1{id}', throttling.accessCheck),
      setting('/~1usage', throttling.usage),
    ]);
    expect(apiRoutes.map((route) => `${route.path} ${route.throttling}`)).toEqual([
      '/fulfillment buyerPages',
      '/register buyerPages',
      '/subscribers/{id} accessCheck',
      '/usage usage',
    ]);
  });

  test('is traced with X-Ray', () => {
    expect(stage.Properties['TracingEnabled']).toBe(true);
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

  /** The ARN an IAM policy names to allow `execute-api:Invoke` on `<method> <path>` of the prod stage. */
  const invokeArn = (methodAndPath: string) => ({
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':execute-api:',
        { Ref: 'AWS::Region' },
        ':',
        { Ref: 'AWS::AccountId' },
        ':',
        { Ref: apiId },
        `/prod/${methodAndPath}`,
      ],
    ],
  });

  test('give the stage URLs of the fulfillment URL, the registration page, the access check and usage recording', () => {
    template.hasOutput('FulfillmentUrl', { Value: stageUrl('fulfillment') });
    template.hasOutput('RegistrationUrl', { Value: stageUrl('register') });
    template.hasOutput('SubscriberAccessUrl', { Value: stageUrl('subscribers/{id}') });
    template.hasOutput('UsageUrl', { Value: stageUrl('usage') });
  });

  test('give the ARN a seller grants execute-api:Invoke on to GET any subscriber, and no other method', () => {
    template.hasOutput('SubscriberAccessInvokeArn', { Value: invokeArn('GET/subscribers/*') });
  });

  test('give the ARN a seller grants execute-api:Invoke on to POST usage, and no other method', () => {
    template.hasOutput('UsageInvokeArn', { Value: invokeArn('POST/usage') });
  });
});

describe('the web firewall', () => {
  test('is absent while WAF is off', () => {
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  test("when on, blocks an IP address over the configured rate on the buyer pages, never the seller's app", () => {
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
    // Counted: the public pages, as a buyer's browser asks for them, behind the stage's name or a custom domain's root.
    // Not counted: POST /usage and the access check, which the seller's app sends hundreds a second from one NAT address.
    const [rule] = webAcl.Properties['Rules'] as {
      Statement: {
        RateBasedStatement: {
          ScopeDownStatement: { OrStatement: { Statements: { ByteMatchStatement: Record<string, unknown> }[] } };
        };
      };
    }[];
    const counted = rule!.Statement.RateBasedStatement.ScopeDownStatement.OrStatement.Statements.map(
      ({ ByteMatchStatement }) => {
        expect(ByteMatchStatement).toMatchObject({
          FieldToMatch: { UriPath: {} },
          PositionalConstraint: 'ENDS_WITH',
          // `/prod/regist%65r` and `/prod//register` reach the page too.
          TextTransformations: [
            { Priority: 0, Type: 'URL_DECODE' },
            { Priority: 1, Type: 'NORMALIZE_PATH' },
          ],
        });
        return ByteMatchStatement['SearchString'];
      },
    );
    expect(counted.sort()).toEqual(['/fulfillment', '/fulfillment/', '/register', '/register/']);
    const [, association] = onlyResourceOfType(wafTemplate, 'AWS::WAFv2::WebACLAssociation');
    const stageArn = JSON.stringify(association.Properties['ResourceArn']);
    expect(stageArn).toContain(JSON.stringify({ Ref: logicalIdOf(wafStack.api.restApi.deploymentStage) }));
    expect(stageArn).toContain(JSON.stringify({ Ref: logicalIdOf(wafStack.api.restApi) }));
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
        RestApiId: { Ref: logicalIdOf(domainStack.api.restApi) },
        Stage: { Ref: logicalIdOf(domainStack.api.restApi.deploymentStage) },
      });
      domainTemplate.resourceCountIs('AWS::Route53::RecordSet', 0);
    });

    test("guards the deployment's region: the certificate must be in it (the stack's region is not fixed)", () => {
      const rules = domainTemplate.toJSON()['Rules'] as Record<string, { Assertions: { Assert: unknown }[] }>;
      expect(Object.values(rules).map((rule) => rule.Assertions[0]?.Assert)).toContainEqual({
        'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'],
      });
      expect(JSON.stringify(rules)).toContain('customDomain.certificateArn is a certificate in us-east-1');
    });

    test('gives URLs on the domain', () => {
      domainTemplate.hasOutput('FulfillmentUrl', { Value: 'https://buy.example.com/fulfillment' });
      domainTemplate.hasOutput('RegistrationUrl', { Value: 'https://buy.example.com/register' });
      domainTemplate.hasOutput('SubscriberAccessUrl', { Value: 'https://buy.example.com/subscribers/{id}' });
      domainTemplate.hasOutput('UsageUrl', { Value: 'https://buy.example.com/usage' });
    });

    test('turns the execute-api endpoint off, so the pages and their cookie live on the domain alone', () => {
      const api = resourceNamed(domainTemplate, logicalIdOf(domainStack.api.restApi));
      expect(api.Properties['DisableExecuteApiEndpoint']).toBe(true);
      // No address on the disabled endpoint (the invoke ARN names the execute-api service, not an address).
      expect(JSON.stringify(domainTemplate.toJSON()['Outputs'])).not.toContain('.execute-api.');
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
