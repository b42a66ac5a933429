/**
 * The project's REST API: every route of `api-routes.ts`, each served by the function the capability that owns it
 * supplies. Public routes are for buyers' browsers, IAM routes for the seller's app (SigV4, `execute-api:Invoke`).
 * The stage throttles each route by its own limits, logs without request data, is traced (unless tracing is off),
 * answers its own failures with a page, and is optionally behind a web firewall and on the seller's own domain.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RestApi,
  type MethodDeploymentOptions,
} from 'aws-cdk-lib/aws-apigateway';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { throttleAlarm } from './alarms.ts';
import { apiRoutes, type ApiRoute } from './api-routes.ts';
import type { Config } from './config.ts';
import { CustomDomain } from './custom-domain.ts';
import type { ProjectFunction } from './functions.ts';
import { answerGatewayErrorsWithPages } from './gateway-responses.ts';
import { KEPT_ONCE_DEPLOYED, LOG_RETENTION } from './log-retention.ts';
import { WebFirewall } from './web-firewall.ts';

export interface ApiProps {
  readonly settings: Config['api'];
  /** X-Ray tracing of the stage (`observability.tracing`). */
  readonly tracing: boolean;
  /** The function behind each route of `api-routes.ts`, from the capabilities that own them: every route needs one. */
  readonly routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>;
}

const STAGE_NAME = 'prod';

/**
 * One JSON line per request, with nothing the caller sent in it beyond the method, the path template and the user
 * agent: no body, no query string, no headers. The Marketplace token arrives in a form body and the registration
 * session in a cookie; neither may reach a log line.
 */
const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: AccessLogField.contextRequestId(),
    requestTime: AccessLogField.contextRequestTime(),
    ip: AccessLogField.contextIdentitySourceIp(),
    userAgent: AccessLogField.contextIdentityUserAgent(),
    method: AccessLogField.contextHttpMethod(),
    resourcePath: AccessLogField.contextResourcePath(),
    protocol: AccessLogField.contextProtocol(),
    status: AccessLogField.contextStatus(),
    responseLength: AccessLogField.contextResponseLength(),
    latency: AccessLogField.contextResponseLatency(),
    integrationStatus: AccessLogField.contextIntegrationStatus(),
    integrationLatency: AccessLogField.contextIntegrationLatency(),
    errorType: AccessLogField.contextErrorResponseType(),
  }),
);

/**
 * Errors only. Data tracing logs whole requests, so the buyer's Marketplace token and session cookie would land in the
 * execution log; the functions log what they need themselves. Repeated on each route's own settings, which replace the
 * stage's whole for that route rather than adding to them.
 */
const executionLogging = { loggingLevel: MethodLoggingLevel.ERROR, dataTraceEnabled: false } as const;

type Throttle = Config['api']['throttling'][keyof Config['api']['throttling']];

function throttlingOf(
  throttle: Throttle,
): Pick<MethodDeploymentOptions, 'throttlingRateLimit' | 'throttlingBurstLimit'> {
  return { throttlingRateLimit: throttle.rateLimit, throttlingBurstLimit: throttle.burstLimit };
}

/** A route added without limits of its own gets the strictest there are, until it is given its own. */
function strictestOf(throttling: Config['api']['throttling']): Throttle {
  const throttles = Object.values(throttling);
  return {
    rateLimit: Math.min(...throttles.map((throttle) => throttle.rateLimit)),
    burstLimit: Math.min(...throttles.map((throttle) => throttle.burstLimit)),
  };
}

/**
 * Each route's own limits, for all its methods (`/<path>/*`): API Gateway keeps one token bucket per method, so a flood
 * on one route never uses up another's.
 */
function routeThrottling(throttling: Config['api']['throttling']): Record<string, MethodDeploymentOptions> {
  return Object.fromEntries(
    apiRoutes.map((route) => [
      `${route.path}/*`,
      { ...executionLogging, ...throttlingOf(throttling[route.throttling]) },
    ]),
  );
}

export class Api extends Construct {
  readonly restApi: RestApi;
  /** Where the stage is reached: the custom domain when configured, the execute-api address otherwise. */
  private readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { settings } = props;
    this.restApi = this.stage(settings, props.tracing);
    answerGatewayErrorsWithPages(this.restApi);
    this.addRoutes(props.routeFunctions);
    throttleAlarm(this, [...new Set(props.routeFunctions.values())]);
    if (settings.waf.enabled) {
      new WebFirewall(this, 'WebFirewall', {
        stage: this.restApi.deploymentStage,
        requestsPerFiveMinutes: settings.waf.requestsPerFiveMinutes,
        limitedPaths: apiRoutes.filter((route) => route.authorization === 'none').map((route) => route.path),
      });
    } else {
      Validations.of(this.restApi.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          "WAF is off in this configuration (marketplace.api.waf.enabled = false); each route's throttling " +
          '(marketplace.api.throttling) caps its request rate instead. Turn it on for a per-IP rate-based rule.',
      });
    }
    this.baseUrl =
      settings.customDomain === undefined
        ? this.restApi.url
        : new CustomDomain(this, 'CustomDomain', { api: this.restApi, domain: settings.customDomain }).url;
  }

  /** The route's address, path parameters left as `{name}`. */
  urlOf(route: ApiRoute): string {
    return `${this.baseUrl}${route.path.replace(/^\//, '')}`;
  }

  /**
   * What an IAM policy names to let a caller use `method` on the route (`execute-api:Invoke`), any value of its path
   * parameters included: `arn:aws:execute-api:<region>:<account>:<api id>/prod/GET/subscribers/*`.
   */
  invokeArnOf(route: ApiRoute, method: 'GET' | 'POST'): string {
    return this.restApi.arnForExecuteApi(method, route.path.replace(/\{[^}]+\}/g, '*'), STAGE_NAME);
  }

  private stage(settings: Config['api'], tracing: boolean): RestApi {
    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: LOG_RETENTION,
      removalPolicy: KEPT_ONCE_DEPLOYED,
    });
    const api = new RestApi(this, 'RestApi', {
      description: 'AWS Marketplace fulfillment URL, buyer registration page and subscriber access check',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // On the seller's domain the pages, and the session cookie they set, live on that one origin: a second address
      // (execute-api) serving the same pages would be one more a buyer could be sent to and taught to trust.
      disableExecuteApiEndpoint: settings.customDomain !== undefined,
      // API Gateway logs through one role per account and region, set on the account rather than on an API. Creating
      // it here makes a first deployment work in a fresh account; it replaces a role already set there (with one of
      // the same rights, so other APIs keep logging). Retained: deleting this stack must not silence other APIs.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        ...executionLogging,
        ...throttlingOf(strictestOf(settings.throttling)),
        methodOptions: routeThrottling(settings.throttling),
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat,
        tracingEnabled: tracing,
      },
    });
    if (!tracing) {
      Validations.of(api.deploymentStage).acknowledge({
        id: 'Serverless-APIGWXrayEnabled',
        reason: 'Tracing is off in this configuration (marketplace.observability.tracing = false).',
      });
    }
    // API Gateway would create the execution log group itself, without an expiry.
    const executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${STAGE_NAME}`,
      retention: LOG_RETENTION,
      removalPolicy: KEPT_ONCE_DEPLOYED,
    });
    api.deploymentStage.node.addDependency(executionLogs);
    if (settings.customDomain !== undefined) {
      // CDK's own output of the stage URL would name the endpoint just disabled; the stack outputs the domain's URLs.
      api.node.tryRemoveChild('Endpoint');
    }
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'The public methods take HTML form posts (application/x-www-form-urlencoded), which API Gateway request ' +
        'validation cannot check, the access check takes nothing but its path parameter, and POST /usage takes a ' +
        'JSON batch whose per-event answers (accepted, duplicate, rejected with a reason) only the handler can give; ' +
        'the handlers validate type, size, encoding and every field themselves.',
    });
    Validations.of(api).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        'The account-wide API Gateway logging role must be able to write the logs of every API in the account ' +
        'and region, which is what this AWS managed policy grants; a policy scoped to this API would break the others.',
    });
    return api;
  }

  /**
   * `ANY`, as the local gateway serves them: a handler answers a method it does not serve itself (a page a buyer
   * understands, or JSON for the seller's app), where API Gateway would answer a bare 403.
   */
  private addRoutes(routeFunctions: ReadonlyMap<ApiRoute, ProjectFunction>): void {
    for (const route of apiRoutes) {
      const routeFunction = routeFunctions.get(route);
      if (routeFunction === undefined) throw new Error(`No function serves the API route ${route.path}`);
      const resource = this.restApi.root.resourceForPath(route.path);
      const integration = new LambdaIntegration(routeFunction.lambda);
      if (route.authorization === 'iam') {
        const method = resource.addMethod('ANY', integration, { authorizationType: AuthorizationType.IAM });
        Validations.of(method).acknowledge({
          id: 'AwsSolutions-COG4',
          reason:
            "Only the seller's own app calls this method, from its servers with AWS credentials: IAM (SigV4 and " +
            'execute-api:Invoke on this method) authorizes it; a Cognito user pool would be a second identity system ' +
            'for one machine caller.',
        });
        continue;
      }
      const method = resource.addMethod('ANY', integration);
      for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(method).acknowledge({
          id,
          reason:
            'Public by design: AWS Marketplace sends the buyer browser to the fulfillment URL with an ' +
            'unauthenticated form POST, and the registration page knows the buyer only by the session cookie the ' +
            'fulfillment URL set.',
        });
      }
    }
  }
}
