import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHostinfo, decodeNode, FieldError } from './fast.js';
import { HostinfoSchema, NodeSchema } from './node.js';

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const junk = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string({ maxLength: 4 }),
  fc.boolean(),
  fc.constant([]),
  fc.constant({}),
);
const maybe = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: junk });
const prefix = fc.oneof(
  fc.constant('100.64.0.1/32'),
  fc.constant('fd7a:115c:a1e0::1/128'),
  fc.constant('10.0.0.0/8'),
  fc.constant('1.2.3.4/33'),
);
const time = fc.oneof(
  fc.constant('0001-01-01T00:00:00Z'),
  fc.constant('2026-11-24T17:30:00.5Z'),
  fc.constant('yesterday'),
);

const hostinfoArb = fc.record(
  {
    Hostname: maybe(fc.string({ maxLength: 8 })),
    OS: maybe(fc.constant('linux')),
    Services: maybe(
      fc.array(
        fc.record({
          Proto: maybe(fc.constant('peerapi4')),
          Port: maybe(fc.integer({ min: -1, max: 70000 })),
        }),
        { maxLength: 2 },
      ),
    ),
    NetInfo: maybe(
      fc.record(
        {
          PreferredDERP: maybe(fc.integer()),
          WorkingUDP: maybe(fc.boolean()),
          DERPLatency: maybe(
            fc.dictionary(fc.string({ maxLength: 3 }), fc.double({ noNaN: true, noDefaultInfinity: true }), {
              maxKeys: 2,
            }),
          ),
        },
        { requiredKeys: [] },
      ),
    ),
    RequestTags: maybe(fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })),
    Userspace: maybe(fc.boolean()),
    ShieldsUp: maybe(fc.boolean()),
    RoutableIPs: maybe(fc.array(prefix, { maxLength: 2 })),
    Location: maybe(
      fc.record(
        { City: maybe(fc.string({ maxLength: 3 })), Priority: maybe(fc.integer()) },
        { requiredKeys: [] },
      ),
    ),
    Unknown: fc.anything(),
  },
  { requiredKeys: [] },
);

const nodeArb = fc.record(
  {
    ID: maybe(fc.integer({ min: 1, max: 1e6 })),
    StableID: maybe(fc.string({ maxLength: 4 })),
    Name: maybe(fc.string({ maxLength: 8 })),
    User: maybe(fc.integer()),
    Key: maybe(hex64.map((h) => `nodekey:${h}`)),
    KeyExpiry: maybe(time),
    KeySignature: maybe(fc.string({ maxLength: 4 })),
    Machine: maybe(hex64.map((h) => `mkey:${h}`)),
    DiscoKey: maybe(hex64.map((h) => `discokey:${h}`)),
    Addresses: maybe(fc.array(prefix, { maxLength: 3 })),
    AllowedIPs: maybe(fc.array(prefix, { maxLength: 3 })),
    Endpoints: maybe(
      fc.array(fc.oneof(fc.constant('1.2.3.4:5'), fc.constant('[::1]:41641'), fc.constant('1.2.3.4')), {
        maxLength: 2,
      }),
    ),
    DERP: maybe(fc.constant('127.3.3.40:3')),
    HomeDERP: maybe(fc.integer({ min: 0, max: 1000 })),
    Hostinfo: maybe(hostinfoArb),
    Created: maybe(time),
    Cap: maybe(fc.integer({ min: 0, max: 200 })),
    Tags: maybe(fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })),
    LastSeen: maybe(time),
    Online: maybe(fc.boolean()),
    MachineAuthorized: maybe(fc.boolean()),
    CapMap: maybe(
      fc.dictionary(
        fc.string({ maxLength: 5 }),
        fc.oneof(fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 })),
        { maxKeys: 2 },
      ),
    ),
    Expired: maybe(fc.boolean()),
    SelfNodeV4MasqAddrForThisPeer: maybe(fc.constant('100.64.0.9')),
    SomethingNew: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

function fastResult<T>(f: () => T): { ok: true; v: T } | { ok: false } {
  try {
    return { ok: true, v: f() };
  } catch (e) {
    expect(e).toBeInstanceOf(FieldError);
    return { ok: false };
  }
}

describe('fast Node decoder = the zod NodeSchema', () => {
  it('same value for every input zod accepts, and refuses what zod refuses', () => {
    fc.assert(
      fc.property(nodeArb, (raw) => {
        const input = JSON.parse(JSON.stringify(raw));
        const z = NodeSchema.safeParse(input);
        const f = fastResult(() => decodeNode(input));
        expect(f.ok).toBe(z.success);
        if (f.ok && z.success) expect(f.v).toEqual(z.data);
      }),
      { numRuns: 2000 },
    );
  });

  it('Hostinfo alone, likewise', () => {
    fc.assert(
      fc.property(hostinfoArb, (raw) => {
        const input = JSON.parse(JSON.stringify(raw) ?? '{}');
        const z = HostinfoSchema.safeParse(input);
        const f = fastResult(() => decodeHostinfo(input));
        expect(f.ok).toBe(z.success);
        if (f.ok && z.success) expect(f.v).toEqual(z.data);
      }),
      { numRuns: 1000 },
    );
  });

  it('names the path of a bad field', () => {
    try {
      decodeNode({
        ID: 1,
        Key: `nodekey:${'0'.repeat(64)}`,
        Hostinfo: {
          Services: [
            { Proto: 'tcp', Port: 1 },
            { Proto: 'x', Port: 'y' },
          ],
        },
      });
      expect.unreachable();
    } catch (e) {
      expect((e as FieldError).path).toEqual(['Hostinfo', 'Services', 1, 'Port']);
    }
  });
});
