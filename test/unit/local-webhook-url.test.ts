/**
 * `WEBHOOK_URL`, where `npm start` sends the webhook calls: https, or http on this machine; never with a user name or
 * password, which fetch refuses to call and the banner and logs would print.
 */
import { afterEach, expect, test, vi } from 'vitest';
import { webhookUrlFromEnvironment } from '../../local/config.ts';

afterEach(() => vi.unstubAllEnvs());

test.each(['https://app.example.com/hook', 'http://127.0.0.1:3000/hook', 'http://localhost:3000/hook'])(
  '%s is taken',
  (url) => {
    vi.stubEnv('WEBHOOK_URL', url);
    expect(webhookUrlFromEnvironment()).toBe(url);
  },
);

test.each([
  'http://user:hunter2@127.0.0.1:3000/hook',
  'https://user:hunter2@app.example.com/hook',
  'http://user:hunter2@example.com/',
])('%s is refused, without its password in the message', (url) => {
  vi.stubEnv('WEBHOOK_URL', url);
  expect(() => webhookUrlFromEnvironment()).toThrow('WEBHOOK_URL must not hold a user name or password');
  expect(() => webhookUrlFromEnvironment()).not.toThrow(/hunter2/);
});

test('a URL that does not parse is refused without what may be its password', () => {
  vi.stubEnv('WEBHOOK_URL', 'https://user:hunter2@app.example.com:99999/hook');
  expect(() => webhookUrlFromEnvironment()).toThrow('not "https://…@app.example.com:99999/hook"');
});

test('an http URL of another machine is refused, naming it', () => {
  vi.stubEnv('WEBHOOK_URL', 'http://app.example.com/hook');
  expect(() => webhookUrlFromEnvironment()).toThrow('WEBHOOK_URL must be an https URL, or an http one on this machine');
});
