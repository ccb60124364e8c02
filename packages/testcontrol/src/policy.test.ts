import { IPPrefix } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import {
  canSee,
  compileFilter,
  FILTER_ALLOW_ALL,
  type PolicyNode,
  parseIpSpec,
  validatePolicy,
} from './policy.js';

const node = (id: number, extra: Partial<PolicyNode> = {}): PolicyNode => ({
  id,
  hostname: `n${id}`,
  addresses: [IPPrefix.parse(`100.64.0.${id}/32`), IPPrefix.parse(`fd7a:115c:a1e0::${id}/128`)],
  tags: [],
  userLogin: 'alice@example.com',
  ...extra,
});

describe('policy', () => {
  const a = node(1);
  const b = node(2, { userLogin: 'bob@example.org' });
  const s = node(3, { tags: ['tag:server'], userLogin: '' });
  const all = [a, b, s];

  it('allows everything without a policy', () => {
    expect(compileFilter(null, a, all)).toEqual(FILTER_ALLOW_ALL);
    expect(canSee(null, a, b)).toBe(true);
  });

  it('parses ip specs', () => {
    expect(parseIpSpec('*')).toEqual({ protos: undefined, first: 0, last: 65535 });
    expect(parseIpSpec('80-90')).toEqual({ protos: undefined, first: 80, last: 90 });
    expect(parseIpSpec('tcp:443')).toEqual({ protos: [6], first: 443, last: 443 });
    expect(parseIpSpec('icmp:*')).toEqual({ protos: [1, 58], first: 0, last: 65535 });
    expect(parseIpSpec('47:*')).toEqual({ protos: [47], first: 0, last: 65535 });
    for (const bad of ['x', '90-80', '70000', 'foo:1', '300:1'])
      expect(() => parseIpSpec(bad)).toThrow(RangeError);
  });

  it('compiles grants for the destination only, with its own addresses', () => {
    const p = validatePolicy({
      grants: [
        { src: ['alice@'], dst: ['tag:server'], ip: ['tcp:22', 'udp:53', '80'] },
        { src: ['10.0.0.0/8', '192.168.1.1'], dst: ['host:n3'], app: { 'example.com/cap/a': [{ x: 1 }] } },
      ],
    });
    expect(compileFilter(p, a, all)).toEqual([]);
    const f = compileFilter(p, s, all);
    expect(f).toEqual([
      {
        SrcIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
        DstPorts: [
          { IP: '100.64.0.3', Ports: { First: 22, Last: 22 } },
          { IP: 'fd7a:115c:a1e0::3', Ports: { First: 22, Last: 22 } },
        ],
        IPProto: [6],
      },
      {
        SrcIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
        DstPorts: [
          { IP: '100.64.0.3', Ports: { First: 53, Last: 53 } },
          { IP: 'fd7a:115c:a1e0::3', Ports: { First: 53, Last: 53 } },
        ],
        IPProto: [17],
      },
      {
        SrcIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'],
        DstPorts: [
          { IP: '100.64.0.3', Ports: { First: 80, Last: 80 } },
          { IP: 'fd7a:115c:a1e0::3', Ports: { First: 80, Last: 80 } },
        ],
      },
      {
        SrcIPs: ['10.0.0.0/8', '192.168.1.1'],
        CapGrant: [
          { Dsts: ['100.64.0.3/32', 'fd7a:115c:a1e0::3/128'], CapMap: { 'example.com/cap/a': [{ x: 1 }] } },
        ],
      },
    ]);
    expect(canSee(p, a, s)).toBe(true);
    expect(canSee(p, s, a)).toBe(true);
    expect(canSee(p, a, b)).toBe(false);
  });

  it('matches selectors: users, autogroups, tags, IPs', () => {
    const p = validatePolicy({ grants: [{ src: ['autogroup:member'], dst: ['autogroup:tagged'] }] });
    expect(compileFilter(p, s, all)[0]?.SrcIPs).toEqual([
      '100.64.0.1',
      'fd7a:115c:a1e0::1',
      '100.64.0.2',
      'fd7a:115c:a1e0::2',
    ]);
    const q = validatePolicy({ grants: [{ src: ['bob@example.org'], dst: ['100.64.0.1'] }] });
    expect(compileFilter(q, a, all)[0]?.SrcIPs).toEqual(['100.64.0.2', 'fd7a:115c:a1e0::2']);
  });

  it('refuses invalid policies', () => {
    expect(() => validatePolicy({})).toThrow(RangeError);
    expect(() => validatePolicy({ grants: [{ src: [], dst: ['*'] }] })).toThrow(RangeError);
    expect(() => validatePolicy({ grants: [{ src: ['?'], dst: ['*'] }] })).toThrow(/selector/);
    expect(() => validatePolicy({ grants: [{ src: ['*'], dst: ['*'], ip: ['tcp:x'] }] })).toThrow(/port/);
  });
});
