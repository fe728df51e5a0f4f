import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

/**
 * The local app signs a request without a token in as the local operator (every role). A web page whose name an
 * attacker re-points at 127.0.0.1 (DNS rebinding) reaches it as a page of its own origin, its requests naming that
 * name in `Host`: they are refused, whatever they ask.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ mailboxes: [{ upn: 'adele@contoso.example', items: 1 }] });
});
afterAll(() => stack.close());

function get(path: string, hostHeader: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, stack.app.baseUrl);
  return new Promise((resolve, reject) => {
    const sent = request(url, { method: 'GET', headers: { host: hostHeader } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    sent.on('error', reject).end();
  });
}

describe('the local app', () => {
  it('answers requests that name this machine', async () => {
    const { port } = new URL(stack.app.baseUrl);
    for (const name of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost'])
      expect((await get('/api/mailboxes', name)).status, name).toBe(200);
  });

  it('refuses a request naming another host (421), before any route or sign-in', async () => {
    const { port } = new URL(stack.app.baseUrl);
    for (const name of [`attacker.example:${port}`, 'attacker.example', '127.0.0.1.attacker.example', '%%']) {
      const answer = await get('/api/mailboxes', name);
      expect(answer.status, name).toBe(421);
      expect(JSON.parse(answer.body).error.title).toMatch(/this machine only/);
    }
  });
});
