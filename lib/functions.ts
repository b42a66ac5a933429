/**
 * How every project function is made: the same runtime, architecture, bundling, logging and tracing for all of them,
 * and a role that may do nothing but write the function's own logs (and, traced, send its traces). Whoever creates a
 * function grants it what it needs, one permission at a time, on the function itself (it is the grantee).
 */
import { Validations, type Duration } from 'aws-cdk-lib';
import { Role, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import type { FunctionEnvironment, FunctionName } from '../contracts/index.ts';
import { tracingVariable } from './function-environment.ts';
import { KEPT_ONCE_DEPLOYED, LOG_RETENTION } from './log-retention.ts';

/** The project root: where `package-lock.json` pins every bundled dependency, the AWS SDK included. */
const projectRoot = join(import.meta.dirname, '..');

/** esbuild's ESM output has no `require`, which CommonJS dependencies bundled into it still call: give them one. */
const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

export interface ProjectFunctionProps<Name extends FunctionName> {
  /** A file under `lambdas/` that exports `handler`, relative to the project root. */
  readonly entry: string;
  /** The function's name in its log lines and metrics (`POWERTOOLS_SERVICE_NAME`). */
  readonly serviceName: Name;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** What the function reads at cold start: only variables its contract (`contracts/function-environment.ts`) names. */
  readonly environment: FunctionEnvironment<Name>;
  /** Caps (and reserves) the function's concurrency; by default it shares the account's unreserved pool. */
  readonly reservedConcurrentExecutions?: number;
  /** X-Ray (`observability.tracing`): the function traces each invocation and its AWS calls, or sends nothing. */
  readonly tracing: boolean;
  /**
   * Why the function has no dead-letter queue of Lambda's own (which takes only failed asynchronous invocations): how
   * it is invoked, and where what fails goes instead.
   */
  readonly failuresGo: string;
}

export class ProjectFunction<Name extends FunctionName = FunctionName> extends Construct implements IGrantable {
  readonly lambda: NodejsFunction;
  /** Where the function logs: a group of the stack's, with a generated name (not `/aws/lambda/<function name>`). */
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;
  readonly serviceName: Name;
  /** The Lambda entry module it bundles, relative to the project root. */
  readonly entry: string;
  /** Every environment variable it gets: its contract's, and those every project function has. */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: ProjectFunctionProps<Name>) {
    super(scope, id);
    this.serviceName = props.serviceName;
    this.entry = props.entry;
    this.logGroup = new LogGroup(this, 'Logs', { retention: LOG_RETENTION, removalPolicy: KEPT_ONCE_DEPLOYED });
    // Not the AWSLambdaBasicExecutionRole managed policy: that one may create and write any log group in the account.
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.serviceName} function`,
    });
    this.logGroup.grantWrite(role);
    this.grantPrincipal = role;

    this.environment = {
      ...props.environment,
      ...tracingVariable(props.tracing),
      POWERTOOLS_SERVICE_NAME: props.serviceName,
      // Stack traces of a minified bundle are unreadable without its source map.
      NODE_OPTIONS: '--enable-source-maps',
    };
    this.lambda = new NodejsFunction(this, 'Function', {
      entry: join(projectRoot, props.entry),
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      // Graviton: the same work for less money, and these functions have no native dependency to rebuild.
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup: this.logGroup,
      tracing: props.tracing ? Tracing.ACTIVE : Tracing.DISABLED,
      environment: { ...this.environment },
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        banner: ESM_REQUIRE_BANNER,
        // The ES module builds of dependencies (the AWS SDK's among them) tree-shake; their CommonJS builds do not.
        mainFields: ['module', 'main'],
        minify: true,
        sourceMap: true,
        // Stack traces need only the mappings, not a copy of every source file.
        sourcesContent: false,
        // Bundled from the lockfile, not the SDK the runtime happens to ship: the version tested is the one deployed.
        bundleAwsSDK: true,
        forceDockerBundling: false,
      },
    });
    Validations.of(this).acknowledge({ id: 'Serverless-LambdaDLQ', reason: props.failuresGo });
    if (props.tracing) {
      // Lambda adds PutTraceSegments and PutTelemetryRecords to the role; the acknowledgement sits on the role, as
      // other grants on "*" (Marketplace's actions) are acknowledged where they are made.
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, ' +
          'so "*" is the only resource they can be granted on.',
      });
    } else {
      Validations.of(this).acknowledge({
        id: 'Serverless-LambdaTracing',
        reason: 'Tracing is off in this configuration (marketplace.observability.tracing = false).',
      });
    }
  }
}
