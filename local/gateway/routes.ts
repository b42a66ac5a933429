/**
 * The gateway's resources and methods, defined and matched the way an API Gateway REST API does, so a path that
 * reaches a function locally reaches the same function once deployed:
 * - a resource path is made of literal parts, `{name}` variables (one path segment) and, last only, a greedy
 *   `{name+}` (one segment or more); a resource has one variable child at most (CreateResource refuses a second);
 * - the most specific resource wins, segment by segment: literal over `{name}` over `{name+}`;
 * - the method is looked up on that resource only, its own before `ANY`: a resource without the method answers 403
 *   even when a less specific resource has it (the classic CORS pitfall: OPTIONS on `/{proxy+}` does not cover an
 *   OPTIONS to `/users`);
 * - a trailing slash is ignored; `/{proxy+}` does not match `/` (the root is a resource of its own).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { GatewayConfigError } from './config-error.ts';
import { percentDecoded } from './percent-decoding.ts';

/** A Lambda handler written for API Gateway's REST API (v1) proxy integration. */
export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface Route {
  /** `GET`, `POST`, ..., several of them, or `ANY` (API Gateway's catch-all method). */
  readonly method: string | readonly string[];
  /** The resource path in API Gateway's syntax: `/fulfillment`, `/subscribers/{id}`, `/assets/{path+}`. */
  readonly path: string;
  readonly handler: ProxyHandler;
  /** `context.functionName`; by default made from the methods and the path, e.g. `GET-subscribers-id`. */
  readonly functionName?: string;
  /** `iam`: callers must sign with SigV4 (the method's `AWS_IAM` authorization); `none` (the default): public. */
  readonly authorization?: Authorization;
  /**
   * The function's own timeout (Lambda's), when shorter than the gateway's integration timeout: past it the function
   * fails as Lambda's "Task timed out" does, which API Gateway answers with 502.
   */
  readonly timeoutMs?: number;
}

export type Authorization = 'none' | 'iam';

/** A request that reached a method: what the event and the context need to know about it. */
export interface MatchedRoute {
  readonly handler: ProxyHandler;
  readonly functionName: string;
  /** The resource path template, the event's `resource` and `requestContext.resourcePath`. */
  readonly resourcePath: string;
  readonly resourceId: string;
  readonly authorization: Authorization;
  readonly timeoutMs: number | undefined;
  /** Decoded, as API Gateway passes them; null when the resource has no variables. */
  readonly pathParameters: Record<string, string> | null;
}

const httpMethods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY']);
const lambdaFunctionName = /^[A-Za-z0-9_-]{1,64}$/;
/** CreateResource's rule for a path part: these characters, or one of them in braces with an optional `+`. */
const literalPart = /^[A-Za-z0-9._-]+$/;
const variablePart = /^\{([A-Za-z0-9._-]+)(\+?)\}$/;

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly name: string }
  | { readonly kind: 'greedy'; readonly name: string };

/** How specific a segment is: lower wins. */
const specificity: Record<Segment['kind'], number> = { literal: 0, variable: 1, greedy: 2 };

interface Resource {
  readonly path: string;
  readonly id: string;
  readonly segments: readonly Segment[];
  readonly methods: Map<string, Pick<MatchedRoute, 'handler' | 'functionName' | 'authorization' | 'timeoutMs'>>;
}

export type RouteMatch =
  | { readonly kind: 'matched'; readonly route: MatchedRoute }
  | { readonly kind: 'no-resource' }
  | { readonly kind: 'no-method' };

export class RouteTable {
  private readonly resources: Resource[] = [];

  /** @throws {GatewayConfigError} for a route API Gateway would not let you create. */
  constructor(routes: readonly Route[]) {
    const byPath = new Map<string, Resource>();
    const variableChildren = new Map<string, string>();
    for (const route of routes) {
      const segments = parseResourcePath(route.path);
      claimVariableChildren(route.path, variableChildren);
      let resource = byPath.get(route.path);
      if (resource === undefined) {
        resource = { path: route.path, id: newResourceId(), segments, methods: new Map() };
        byPath.set(route.path, resource);
        this.resources.push(resource);
      }
      const methods = parseMethods(route);
      if (route.timeoutMs !== undefined && !(Number.isInteger(route.timeoutMs) && route.timeoutMs > 0)) {
        throw new GatewayConfigError(
          `${route.path}: timeoutMs must be a positive whole number, not ${route.timeoutMs}`,
        );
      }
      const functionName = route.functionName ?? defaultFunctionName(methods, route.path);
      if (!lambdaFunctionName.test(functionName)) {
        throw new GatewayConfigError(
          `Function name "${functionName}" is not a Lambda function name (1-64 of A-Z a-z 0-9 - _)`,
        );
      }
      for (const method of methods) {
        if (resource.methods.has(method)) throw new GatewayConfigError(`${method} ${route.path} is defined twice`);
        resource.methods.set(method, {
          handler: route.handler,
          functionName,
          authorization: route.authorization ?? 'none',
          timeoutMs: route.timeoutMs,
        });
      }
    }
  }

  /** `path` is the request path below the stage, still percent-encoded as the client sent it. */
  match(method: string, path: string): RouteMatch {
    const requestSegments = path.split('/').slice(1);
    if (requestSegments.at(-1) === '') requestSegments.pop();
    let best: { resource: Resource; parameters: Map<string, string> } | undefined;
    for (const resource of this.resources) {
      const parameters = matchSegments(resource.segments, requestSegments);
      if (parameters !== undefined && (best === undefined || isMoreSpecific(resource, best.resource))) {
        best = { resource, parameters };
      }
    }
    if (best === undefined) return { kind: 'no-resource' };
    const target = best.resource.methods.get(method) ?? best.resource.methods.get('ANY');
    if (target === undefined) return { kind: 'no-method' };
    return {
      kind: 'matched',
      route: {
        ...target,
        resourcePath: best.resource.path,
        resourceId: best.resource.id,
        pathParameters: best.parameters.size === 0 ? null : Object.fromEntries(best.parameters),
      },
    };
  }
}

function parseResourcePath(path: string): Segment[] {
  if (path === '/') return [];
  if (!path.startsWith('/') || path.endsWith('/')) {
    throw new GatewayConfigError(`Resource path "${path}" must start with "/" and not end with one`);
  }
  const parts = path.slice(1).split('/');
  return parts.map((part, index) => {
    if (literalPart.test(part)) return { kind: 'literal', text: part };
    const variable = variablePart.exec(part);
    if (variable === null) {
      throw new GatewayConfigError(
        `Resource path "${path}": "${part}" is neither a literal (A-Z a-z 0-9 . _ -) nor a {variable}`,
      );
    }
    const [, name = '', greedy] = variable;
    if (greedy === '') return { kind: 'variable', name };
    if (index !== parts.length - 1) {
      throw new GatewayConfigError(`Resource path "${path}": a greedy {${name}+} must be the last part`);
    }
    return { kind: 'greedy', name };
  });
}

/** API Gateway allows one variable child per resource: `/a/{id}` and `/a/{name}` cannot both exist. */
function claimVariableChildren(path: string, variableChildren: Map<string, string>): void {
  const parts = path.split('/').slice(1);
  parts.forEach((part, index) => {
    if (!part.startsWith('{')) return;
    const parent = `/${parts.slice(0, index).join('/')}`;
    const claimed = variableChildren.get(parent);
    if (claimed !== undefined && claimed !== part) {
      throw new GatewayConfigError(
        `Resource path "${path}": ${parent} already has the variable child ${claimed}; API Gateway allows only one`,
      );
    }
    variableChildren.set(parent, part);
  });
}

function parseMethods(route: Route): string[] {
  const methods = (typeof route.method === 'string' ? [route.method] : [...route.method]).map((method) =>
    method.toUpperCase(),
  );
  if (methods.length === 0) throw new GatewayConfigError(`${route.path} has no method`);
  for (const method of methods) {
    if (!httpMethods.has(method))
      throw new GatewayConfigError(`${route.path}: "${method}" is not an API Gateway method`);
  }
  return methods;
}

function defaultFunctionName(methods: readonly string[], path: string): string {
  return [...methods, ...path.split(/[^A-Za-z0-9_]+/).filter((word) => word !== '')].join('-').slice(0, 64);
}

/** Resource ids look like API Gateway's (`roq9wj`); they only need to be stable while the gateway runs. */
function newResourceId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(6), (byte) => alphabet[byte % alphabet.length]).join('');
}

/** The decoded path parameters when `template` matches the request's segments; undefined when it does not. */
function matchSegments(template: readonly Segment[], request: readonly string[]): Map<string, string> | undefined {
  const parameters = new Map<string, string>();
  for (const [index, segment] of template.entries()) {
    if (segment.kind === 'greedy') {
      const rest = request.slice(index);
      if (rest.length === 0) return undefined;
      parameters.set(segment.name, rest.map(percentDecoded).join('/'));
      return parameters;
    }
    const part = request[index];
    if (part === undefined || part === '') return undefined;
    if (segment.kind === 'literal' && percentDecoded(part) !== segment.text) return undefined;
    if (segment.kind === 'variable') parameters.set(segment.name, percentDecoded(part));
  }
  return template.length === request.length ? parameters : undefined;
}

function isMoreSpecific(candidate: Resource, current: Resource): boolean {
  for (let index = 0; index < Math.min(candidate.segments.length, current.segments.length); index++) {
    const difference = specificity[candidate.segments[index]!.kind] - specificity[current.segments[index]!.kind];
    if (difference !== 0) return difference < 0;
  }
  return false;
}
