/**
 * An optional WAF web ACL in front of the API stage: one rate-based rule that blocks an IP address sending more than
 * the configured number of requests in five minutes to the public routes (the buyer pages). Each route's throttling
 * caps all its callers together; this stops one caller from using a route's whole allowance and locking real buyers
 * out. Requests to the signed routes are not counted, signed or not: the seller's app calls them at hundreds of
 * requests a second from a few addresses (a NAT gateway), which a per-IP limit would block.
 */
import { Names } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { BUYER_RETRY_AFTER_SECONDS } from '../contracts/index.ts';
import { TRY_AGAIN_PAGE, tryAgainPageHeaders } from './try-again-page.ts';

export interface WebFirewallProps {
  readonly stage: Stage;
  readonly requestsPerFiveMinutes: number;
  /** The paths (as routed, without the stage) whose requests the rule counts. */
  readonly limitedPaths: readonly string[];
}

/** The key a block action names its response body by; the body itself is defined once on the web ACL. */
const TRY_AGAIN_BODY = 'TryAgainPage';

export class WebFirewall extends Construct {
  constructor(scope: Construct, id: string, props: WebFirewallProps) {
    super(scope, id);
    const metricPrefix = Names.uniqueId(this);
    const webAcl = new CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      customResponseBodies: { [TRY_AGAIN_BODY]: { contentType: 'TEXT_HTML', content: TRY_AGAIN_PAGE } },
      visibilityConfig: {
        cloudWatchMetricsEnabled: true,
        metricName: metricPrefix,
        sampledRequestsEnabled: true,
      },
      rules: [
        {
          name: 'RequestsPerIp',
          priority: 0,
          // 429 tells a well-behaved client to slow down; WAF's default 403 reads as "forbidden for good". A buyer
          // who lands here sees the same page as when API Gateway itself throttles.
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: TRY_AGAIN_BODY,
                responseHeaders: Object.entries({
                  ...tryAgainPageHeaders,
                  'retry-after': String(BUYER_RETRY_AFTER_SECONDS),
                }).map(([name, value]) => ({ name, value })),
              },
            },
          },
          statement: {
            rateBasedStatement: {
              limit: props.requestsPerFiveMinutes,
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
              scopeDownStatement: anyOf(props.limitedPaths.flatMap((path) => [path, `${path}/`]).map(pathEndingWith)),
            },
          },
          visibilityConfig: {
            cloudWatchMetricsEnabled: true,
            metricName: `${metricPrefix}RequestsPerIp`,
            sampledRequestsEnabled: true,
          },
        },
      ],
    });
    new CfnWebACLAssociation(this, 'StageAssociation', {
      resourceArn: props.stage.stageArn,
      webAclArn: webAcl.attrArn,
    });
  }
}

/**
 * Requests whose path ends with `suffix`: behind the stage's name on the execute-api address, or at the root of a
 * custom domain. Decoded and normalized first (`%65`, `//`, `/./`), so that another spelling of the path counts too.
 */
function pathEndingWith(suffix: string): CfnWebACL.StatementProperty {
  return {
    byteMatchStatement: {
      fieldToMatch: { uriPath: {} },
      positionalConstraint: 'ENDS_WITH',
      searchString: suffix,
      textTransformations: [
        { priority: 0, type: 'URL_DECODE' },
        { priority: 1, type: 'NORMALIZE_PATH' },
      ],
    },
  };
}

/** One statement, or any of several (WAF's `OrStatement` takes two or more). */
function anyOf(statements: readonly CfnWebACL.StatementProperty[]): CfnWebACL.StatementProperty {
  if (statements.length === 0) throw new Error('A rate-based rule must count some requests: no path was given');
  if (statements.length === 1) return statements[0]!;
  return { orStatement: { statements: [...statements] } };
}
