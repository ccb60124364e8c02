// Fuzz the LocalAPI handler's inputs (addresses, query strings, paths, headers): every request gets
// an HTTP answer from a fixed set of statuses, never a 500 from our own code, never a crash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRequest } from '../src/auth.js';
import { peerCaps } from '../src/capmap.js';
import { createLocalApiHandler } from '../src/handler.js';
import { inProcessTransport } from '../src/transport.js';
import { ALICE_IP, ip, sampleBackend } from '../test/fixture.js';

const handler = createLocalApiHandler({ backend: sampleBackend() });
const send = inProcessTransport(handler);
const get = (path: string, method = 'GET') => send({ method, path, timeoutMs: 5000 });

const addrLike = fc.oneof(
  fc.string(),
  fc.ipV4(),
  fc.ipV6(),
  fc.tuple(fc.ipV4(), fc.integer({ min: -5, max: 70000 })).map(([a, p]) => `${a}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 70000 })).map(([a, p]) => `[${a}]:${p}`),
  fc.stringMatching(/^nodekey:[0-9a-f]{0,70}$/),
  fc.constantFrom('::ffff:100.64.0.2', `${ALICE_IP}%eth0`, '[fe80::1%eth0]:1', '1.2.3.4-5.6.7.8', '*'),
);

describe('handler fuzz', () => {
  it('whois?addr=<anything>: 200, 400 or 404', async () => {
    await fc.assert(
      fc.asyncProperty(addrLike, fc.option(fc.string()), fc.option(fc.string()), async (addr, dst, proto) => {
        const q = new URLSearchParams({ addr });
        if (dst !== null) q.set('dst_ip', dst);
        if (proto !== null) q.set('proto', proto);
        const r = await get(`/localapi/v0/whois?${q}`);
        expect([200, 400, 404]).toContain(r.status);
      }),
      { numRuns: 300 },
    );
  });

  it('raw query strings and paths: never a 500', async () => {
    const routes = [
      'whois',
      'status',
      'prefs',
      'peer-by-id',
      'user-profile',
      'cert-domains',
      'dns-config',
      'x',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.string({
          unit: fc.constantFrom('a', '=', '&', '%', '2', 'z', '?', '/', ';', '+', ' ', 'é', '#', '\u0000'),
        }),
        fc.constantFrom('GET', 'HEAD', 'POST', 'PATCH', 'DELETE'),
        async (route, qs, method) => {
          const path = `/localapi/v0/${route}?${encodeURI(qs).replace(/#/g, '%23')}`;
          const r = await get(path, method);
          expect(r.status).toBeGreaterThanOrEqual(200);
          expect(r.status).not.toBe(500);
        },
      ),
      { numRuns: 300 },
    );
    expect(handler.stats.backendErrors).toBe(0);
  });

  it('request checks never throw on arbitrary headers', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('host', 'origin', 'referer', 'authorization', 'sec-tailscale'),
          fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 2 })),
        ),
        fc.option(fc.string()),
        (headers, pw) => {
          const r = checkRequest(headers, {
            requireSecTailscaleHeader: true,
            requiredPassword: pw ?? undefined,
          });
          expect(r === null || r.status === 401 || r.status === 403).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('peerCaps never throws on arbitrary rule text', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            SrcIPs: fc.array(fc.oneof(fc.string(), fc.ipV4(), fc.constant('*'))),
            CapGrant: fc.array(
              fc.record({
                Dsts: fc.array(
                  fc.oneof(
                    fc.string(),
                    fc.ipV4().map((a) => `${a}/32`),
                  ),
                ),
                Caps: fc.array(fc.string()),
              }),
            ),
          }),
        ),
        fc.ipV4(),
        (rules, src) => {
          const caps = peerCaps({ rules, selfAddresses: [], src: ip(src), dst: ip('100.64.0.1') });
          expect(typeof caps).toBe('object');
        },
      ),
      { numRuns: 500 },
    );
  });
});
