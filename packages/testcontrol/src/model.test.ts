import { MachinePrivate, NodePrivate, systemClock } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_LOGINS, TailnetState } from './model.js';

const state = () =>
  new TailnetState({
    clock: systemClock,
    domain: 'tailnet.test',
    baseURL: () => 'http://127.0.0.1:1',
    defaultUser: 'user@example.com',
    keyExpiryMs: null,
    defaultCapMap: {},
  });

const add = (s: TailnetState, hostname: string) =>
  s.addNode({
    machineKey: MachinePrivate.generate().public(),
    nodeKey: NodePrivate.generate().public(),
    userId: s.defaultUser().id,
    hostname,
    hostinfo: {},
    tags: [],
    ephemeral: false,
    cap: 115,
  });

describe('TailnetState', () => {
  it('allocates sequential addresses, skipping .0 and .255', () => {
    const s = state();
    const got: string[] = [];
    for (let i = 0; i < 256; i++) got.push(add(s, `n${i}`).addresses.map(String).join(' '));
    expect(got[0]).toBe('100.64.0.1/32 fd7a:115c:a1e0::1/128');
    expect(got[253]).toBe('100.64.0.254/32 fd7a:115c:a1e0::fe/128');
    expect(got[254]).toBe('100.64.1.1/32 fd7a:115c:a1e0::101/128');
    expect(new Set(got).size).toBe(256);
  });

  it('makes MagicDNS labels valid and unique', () => {
    const s = state();
    expect(add(s, 'My Laptop!').label).toBe('my-laptop');
    expect(add(s, 'my-laptop').label).toBe('my-laptop-1');
    expect(add(s, '---').label).toBe('node');
    const n = add(s, 'x');
    expect(s.fqdn(n)).toBe('x.tailnet.test.');
  });

  it('keeps at most MAX_PENDING_LOGINS logins pending, rejecting the oldest', async () => {
    const s = state();
    const first = s.startLogin(NodePrivate.generate().public(), 'first');
    const ac = new AbortController();
    const outcome = s.waitLogin(s.login(first.id)!, ac.signal);
    for (let i = 0; i < MAX_PENDING_LOGINS; i++) s.startLogin(NodePrivate.generate().public(), `n${i}`);
    expect(s.pendingLogins().length).toBe(MAX_PENDING_LOGINS);
    expect(await outcome).toBe('rejected');
    expect(s.login(first.id)).toBeUndefined();
  });

  it('checks auth keys: unknown, single use, expiry', () => {
    const s = state();
    expect(s.useAuthKey('nope')).toBe('invalid auth key');
    const k = s.createAuthKey();
    expect(typeof s.useAuthKey(k)).toBe('object');
    expect(s.useAuthKey(k)).toBe('auth key already used');
    expect(() => s.createAuthKey({ tags: ['bad'] })).toThrow(RangeError);
    expect(() => s.createAuthKey({ expiresInMs: 0 })).toThrow(RangeError);
    expect(s.authKeys().every((i) => !('secret' in i))).toBe(true);
  });
});
