import { expect, test } from 'vitest';
import { GatewayConfigError } from '../../local/gateway/config-error.ts';
import { RouteTable, type ProxyHandler, type Route } from '../../local/gateway/routes.ts';

const handler: ProxyHandler = () => Promise.resolve({ statusCode: 200, body: '' });

function table(...routes: [method: Route['method'], path: string][]): RouteTable {
  return new RouteTable(routes.map(([method, path]) => ({ method, path, handler })));
}

/** The resource a request reaches, or why it reaches none. */
function resolve(routes: RouteTable, method: string, path: string): string {
  const match = routes.match(method, path);
  return match.kind === 'matched' ? match.route.resourcePath : match.kind;
}

test('a literal part wins over a variable, and a variable over a greedy variable', () => {
  const routes = table(['GET', '/items/{id}'], ['GET', '/items/latest'], ['GET', '/{proxy+}']);
  expect(resolve(routes, 'GET', '/items/latest')).toBe('/items/latest');
  expect(resolve(routes, 'GET', '/items/42')).toBe('/items/{id}');
  expect(resolve(routes, 'GET', '/items/42/parts')).toBe('/{proxy+}');
});

test('a greedy variable takes one segment or more, decoded and joined; the root is a resource of its own', () => {
  const routes = table(['GET', '/assets/{path+}']);
  const match = routes.match('GET', '/assets/css/site%20main.css');
  expect(match.kind === 'matched' && match.route.pathParameters).toEqual({ path: 'css/site main.css' });
  expect(resolve(routes, 'GET', '/assets')).toBe('no-resource');
  expect(resolve(table(['ANY', '/{proxy+}']), 'GET', '/')).toBe('no-resource');
  expect(resolve(table(['ANY', '/']), 'GET', '/')).toBe('/');
});

test('a trailing slash is ignored; an empty segment matches nothing but a greedy variable', () => {
  const routes = table(['GET', '/subscribers/{id}']);
  expect(resolve(routes, 'GET', '/subscribers/7/')).toBe('/subscribers/{id}');
  expect(resolve(routes, 'GET', '/subscribers//')).toBe('no-resource');
});

test('the method is looked up on the most specific resource only, its own before ANY', () => {
  const routes = table(['OPTIONS', '/{proxy+}'], ['GET', '/users'], [['ANY'], '/orders'], ['DELETE', '/orders']);
  expect(resolve(routes, 'OPTIONS', '/users')).toBe('no-method');
  expect(resolve(routes, 'OPTIONS', '/anything/else')).toBe('/{proxy+}');
  expect(resolve(routes, 'PATCH', '/orders')).toBe('/orders');
  const deleteMatch = new RouteTable([
    { method: 'ANY', path: '/orders', handler, functionName: 'any' },
    { method: 'delete', path: '/orders', handler, functionName: 'delete' },
  ]).match('DELETE', '/orders');
  expect(deleteMatch.kind === 'matched' && deleteMatch.route.functionName).toBe('delete');
});

test('a literal part matches its percent-encoded spelling too', () => {
  expect(resolve(table(['GET', '/fulfillment']), 'GET', '/fulfil%6Cment')).toBe('/fulfillment');
});

test.each([
  ['a path without a leading slash', [['GET', 'fulfillment']]],
  ['a path with a trailing slash', [['GET', '/fulfillment/']]],
  ['a part with characters API Gateway refuses', [['GET', '/a b']]],
  ['a greedy variable that is not last', [['GET', '/{proxy+}/more']]],
  [
    'two variable children of one resource',
    [
      ['GET', '/items/{id}'],
      ['GET', '/items/{name}/parts'],
    ],
  ],
  [
    'a method defined twice',
    [
      ['GET', '/items'],
      [['POST', 'GET'], '/items'],
    ],
  ],
  ['an unknown method', [['FETCH', '/items']]],
] as [string, [Route['method'], string][]][])('%s is refused at start', (_what, routes) => {
  expect(() => table(...routes)).toThrow(GatewayConfigError);
});
