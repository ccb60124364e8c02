import { IPAddr, IPPrefix } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import {
  type CapFilterRule,
  capsWithValues,
  PEER_CAPABILITY_INGRESS,
  parseSrcSet,
  peerCaps,
} from './capmap.js';

const ME4 = '100.64.0.1';
const ME6 = 'fd7a:115c:a1e0::1';
const SELF = [IPPrefix.parse(`${ME4}/32`), IPPrefix.parse(`${ME6}/128`)];
const ip = IPAddr.parse;
const pfx = IPPrefix.parse;

function grant(src: string[], dsts: string[], capMap: Record<string, unknown[] | null>, caps?: string[]) {
  return {
    SrcIPs: src,
    CapGrant: [{ Dsts: dsts.map(pfx), CapMap: capMap, ...(caps ? { Caps: caps } : {}) }],
  } satisfies CapFilterRule;
}

describe('peerCaps (Go nodeBackend.PeerCaps over Filter.CapsWithValues)', () => {
  const cases: {
    name: string;
    rules: CapFilterRule[] | undefined;
    src: string;
    dst?: string;
    self?: IPPrefix[];
    unsigned?: boolean;
    want: Record<string, unknown[]>;
  }[] = [
    { name: 'no filter yet grants nothing', rules: undefined, src: '100.64.0.2', want: {} },
    { name: 'empty filter grants nothing', rules: [], src: '100.64.0.2', want: {} },
    {
      name: 'a grant to our /32 from the caller',
      rules: [grant(['100.64.0.2'], [`${ME4}/32`], { 'example.com/cap/web': [{ role: 'admin' }] })],
      src: '100.64.0.2',
      want: { 'example.com/cap/web': [{ role: 'admin' }] },
    },
    {
      name: 'not for another caller',
      rules: [grant(['100.64.0.2'], [`${ME4}/32`], { 'example.com/cap/web': [{}] })],
      src: '100.64.0.3',
      want: {},
    },
    {
      name: 'not when the destination is another node',
      rules: [grant(['*'], ['100.64.0.9/32'], { 'example.com/cap/web': [{}] })],
      src: '100.64.0.2',
      want: {},
    },
    {
      name: 'network rules (DstPorts) grant no capabilities',
      rules: [{ SrcIPs: ['*'] }],
      src: '100.64.0.2',
      want: {},
    },
    {
      name: '* source, CGNAT destination prefix',
      rules: [grant(['*'], ['100.64.0.0/10'], { 'example.com/cap/x': [1] })],
      src: '100.64.0.2',
      want: { 'example.com/cap/x': [1] },
    },
    {
      name: 'values of the same capability from two rules are appended in rule order',
      rules: [
        grant(['100.64.0.0/24'], [`${ME4}/32`], { 'example.com/cap/x': [{ a: 1 }] }),
        grant(['100.64.0.2'], [`${ME4}/32`], { 'example.com/cap/x': [{ b: 2 }], 'example.com/cap/y': [] }),
      ],
      src: '100.64.0.2',
      want: { 'example.com/cap/x': [{ a: 1 }, { b: 2 }], 'example.com/cap/y': [] },
    },
    {
      name: 'Caps entries have no values; null values read as none',
      rules: [grant(['*'], [`${ME4}/32`], { 'example.com/cap/n': null }, ['example.com/cap/plain', ''])],
      src: '100.64.0.2',
      want: { 'example.com/cap/plain': [], 'example.com/cap/n': [] },
    },
    {
      name: 'IPv6 caller matches against our IPv6 address',
      rules: [grant(['fd7a:115c:a1e0::2'], [`${ME6}/128`], { 'example.com/cap/v6': [true] })],
      src: 'fd7a:115c:a1e0::2',
      want: { 'example.com/cap/v6': [true] },
    },
    {
      name: 'IPv6 caller, grant only to our IPv4 address',
      rules: [grant(['*'], [`${ME4}/32`], { 'example.com/cap/v4': [true] })],
      src: 'fd7a:115c:a1e0::2',
      want: {},
    },
    {
      name: 'no own address of the caller family',
      rules: [grant(['*'], ['::/0'], { 'example.com/cap/v6': [true] })],
      src: 'fd7a:115c:a1e0::2',
      self: [pfx(`${ME4}/32`)],
      want: {},
    },
    {
      name: 'an inclusive range source',
      rules: [grant(['100.64.0.2-100.64.0.4'], [`${ME4}/32`], { c: [1] })],
      src: '100.64.0.4',
      want: { c: [1] },
    },
    {
      name: 'just outside a range source',
      rules: [grant(['100.64.0.2-100.64.0.4'], [`${ME4}/32`], { c: [1] })],
      src: '100.64.0.5',
      want: {},
    },
    {
      name: 'cap: sources never match a capability grant',
      rules: [grant(['cap:example.com/nodecap'], [`${ME4}/32`], { c: [1] })],
      src: '100.64.0.2',
      want: {},
    },
    {
      name: 'an unmasked CIDR source is refused, the next entry still counts',
      rules: [grant(['100.64.0.2/24', '100.64.0.2'], [`${ME4}/32`], { c: [1] })],
      src: '100.64.0.2',
      want: { c: [1] },
    },
    {
      name: 'a rule with SrcBits makes Go refuse the whole filter',
      rules: [grant(['*'], [`${ME4}/32`], { c: [1] }), { SrcIPs: ['*'], SrcBits: [32] }],
      src: '100.64.0.2',
      want: {},
    },
    {
      name: 'explicit dst_ip',
      rules: [grant(['*'], ['100.100.100.1/32'], { 'example.com/cap/svc': ['s'] })],
      src: '100.64.0.2',
      dst: '100.100.100.1',
      want: { 'example.com/cap/svc': ['s'] },
    },
    {
      name: 'unsigned PeerAPI-only peers keep only ingress',
      rules: [grant(['*'], [`${ME4}/32`], { [PEER_CAPABILITY_INGRESS]: [], 'example.com/cap/x': [1] })],
      src: '100.64.0.2',
      unsigned: true,
      want: { [PEER_CAPABILITY_INGRESS]: [] },
    },
    {
      name: 'a capability named __proto__ is a plain key',
      rules: [grant(['*'], [`${ME4}/32`], JSON.parse('{"__proto__":[1]}') as Record<string, unknown[]>)],
      src: '100.64.0.2',
      want: JSON.parse('{"__proto__":[1]}') as Record<string, unknown[]>,
    },
    {
      name: 'string Dsts (an unparsed filter) work too; bad ones are ignored',
      rules: [{ SrcIPs: ['*'], CapGrant: [{ Dsts: ['nope', `${ME4}/32`], Caps: ['c'] }] }],
      src: '100.64.0.2',
      want: { c: [] },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = peerCaps({
        rules: c.rules,
        selfAddresses: c.self ?? SELF,
        src: ip(c.src),
        dst: c.dst === undefined ? undefined : ip(c.dst),
        unsignedPeerAPIOnly: c.unsigned,
      });
      expect(got).toEqual(c.want);
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    });
  }

  it('does not alias the rule values', () => {
    const values = [{ a: 1 }];
    const rules = [grant(['*'], [`${ME4}/32`], { c: values })];
    const got = capsWithValues(rules, ip('100.64.0.2'), ip(ME4));
    got.c?.push('x');
    expect(values).toHaveLength(1);
  });
});

describe('parseSrcSet (Go parseIPSet)', () => {
  it.each([
    ['*', 2],
    ['100.64.0.1', 1],
    ['100.64.0.0/10', 1],
    ['100.64.0.1/10', 0],
    ['1.2.3.4-1.2.3.9', 1],
    ['1.2.3.9-1.2.3.4', 0],
    ['1.2.3.4-::1', 0],
    ['a-b-c', 0],
    ['cap:x', 0],
    ['', 0],
    ['garbage', 0],
  ])('%s → %d ranges', (text, n) => {
    expect(parseSrcSet(text)).toHaveLength(n);
  });
});

// The filter headscale v0.29.2 sent a real tailscaled v1.102.3 for the policy of
// test/tailscaled.interop.test.ts (an `ip` grant * → *, and an `app` grant alice@ → server@), as
// `debug-packet-filter-rules` printed it; server 100.64.0.3, alice 100.64.0.1, a tag:ci node
// 100.64.0.2. tailscaled's WhoIs answered alice with the capability and the tagged node without.
describe('peerCaps on a filter headscale produced (recorded from the interop run)', () => {
  const recorded = JSON.parse(
    '[{"SrcIPs":["100.64.0.0-100.115.91.255","100.115.94.0-100.127.255.255","fd7a:115c:a1e0::/48"],"DstPorts":[{"IP":"*","Ports":{"First":0,"Last":65535}}]},{"SrcIPs":["100.64.0.1","fd7a:115c:a1e0::1"],"CapGrant":[{"Dsts":["100.64.0.3/32","fd7a:115c:a1e0::3/128"],"CapMap":{"example.com/cap/web":[{"role":"admin"},{"role":"viewer"}]}}]}]',
  ) as CapFilterRule[];
  const self = [pfx('100.64.0.3/32'), pfx('fd7a:115c:a1e0::3/128')];
  it.each([
    ['alice (granted)', '100.64.0.1', { 'example.com/cap/web': [{ role: 'admin' }, { role: 'viewer' }] }],
    [
      'alice over IPv6',
      'fd7a:115c:a1e0::1',
      { 'example.com/cap/web': [{ role: 'admin' }, { role: 'viewer' }] },
    ],
    ['the tagged node (not granted)', '100.64.0.2', {}],
    ['ourselves', '100.64.0.3', {}],
  ])('%s', (_name, src, want) => {
    expect(peerCaps({ rules: recorded, selfAddresses: self, src: ip(src) })).toEqual(want);
  });
});
