// The admin API over HTTP: bearer token, keys, nodes, logins, policy, pings, waits.
import { peers } from '@tsnet/control';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type NodeInfo, TestTailnet } from '../src/index.js';
import { join, newClient, type TestClient } from './helpers.js';

let tailnet: TestTailnet;
const clients: TestClient[] = [];
beforeEach(async () => {
  tailnet = await TestTailnet.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await tailnet.close();
});

async function api(method: string, path: string, body?: unknown, token = tailnet.adminToken) {
  const r = await fetch(`${tailnet.adminURL}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: (await r.json()) as unknown };
}

describe('admin HTTP endpoint', () => {
  it('requires the bearer token', async () => {
    expect((await api('GET', '/api/nodes', undefined, 'wrong')).status).toBe(401);
    expect((await fetch(`${tailnet.adminURL}/api/nodes`)).status).toBe(401);
    expect((await api('GET', '/api/nodes')).status).toBe(200);
  });

  it('creates keys, lists and expires nodes, sets capabilities and tags, pings', async () => {
    const { json } = await api('POST', '/api/keys', { reusable: true, user: 'dave@example.com' });
    const key = (json as { key: string }).key;
    expect(key).toMatch(/^tskey-auth-/);
    const a = await join(tailnet, 'alpha', key);
    const b = await join(tailnet, 'beta', key);
    clients.push(a, b);
    const nodes = (await api('GET', '/api/nodes')).json as NodeInfo[];
    expect(nodes.map((n) => [n.hostname, n.user.loginName])).toEqual([
      ['alpha', 'dave@example.com'],
      ['beta', 'dave@example.com'],
    ]);
    expect(((await api('GET', '/api/nodes/beta/wait?online=true')).json as NodeInfo).online).toBe(true);
    expect((await api('PUT', '/api/nodes/alpha/capabilities', { 'example.com/cap/y': [1] })).status).toBe(
      200,
    );
    await a.until((m) => m.self?.CapMap?.['example.com/cap/y']);
    expect((await api('PUT', '/api/nodes/alpha/tags', { tags: ['tag:web'] })).status).toBe(200);
    await b.until((m) => peers(m)[0]?.Tags?.includes('tag:web'));
    const ping = await api('POST', '/api/nodes/alpha/ping', { timeoutMs: 5000 });
    expect((ping.json as { method: string }).method).toBe('HEAD');
    expect((await api('POST', '/api/nodes/beta/expire')).status).toBe(200);
    await a.until((m) => peers(m)[0]?.Expired === true);
    expect((await api('GET', '/api/nodes/nope')).status).toBe(404);
    expect((await api('DELETE', '/api/nodes/beta')).status).toBe(200);
    await a.until((m) => peers(m).length === 0);
  });

  it('approves an interactive login', async () => {
    const c = newClient(tailnet, 'gui');
    clients.push(c);
    const registered = c.client.register();
    const pending = (await api('GET', '/api/logins/wait?hostname=gui')).json as { id: string };
    expect(
      (await api('POST', `/api/logins/${pending.id}/approve`, { user: 'erin@example.com' })).status,
    ).toBe(200);
    await registered;
    expect(tailnet.node('gui')?.user.loginName).toBe('erin@example.com');
  });

  it('sets and reads the policy, refusing invalid ones with 400', async () => {
    const policy = { grants: [{ src: ['*'], dst: ['tag:x'], ip: ['22'] }] };
    expect((await api('PUT', '/api/policy', policy)).status).toBe(200);
    expect((await api('GET', '/api/policy')).json).toEqual(policy);
    const bad = await api('PUT', '/api/policy', { grants: [{ src: ['*'], dst: ['??'] }] });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: string }).error).toMatch(/selector/);
    expect(
      (await api('PUT', '/api/policy', { grants: [{ src: ['*'], dst: ['*'], ip: ['tcp:99999'] }] })).status,
    ).toBe(400);
    expect((await api('POST', '/api/keys', { tags: ['not-a-tag'] })).status).toBe(400);
    const r = await fetch(`${tailnet.adminURL}/api/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tailnet.adminToken}` },
      body: '{nope',
    });
    expect(r.status).toBe(400);
  });
});
