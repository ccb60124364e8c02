// Interop 2: our DerpServer relays between two real tailscaled nodes (v1.102.3, userspace
// networking). headscale (v0.29.2) hands out a DERP map whose only region is our server (TLS with a
// self-signed certificate pinned by CertName, plus our STUN responder); both nodes run with
// TS_DEBUG_ALWAYS_USE_DERP=1 so there is no direct UDP path. `tailscale ping` must say "via DERP",
// and TCP streams through one node's SOCKS5 proxy to a server behind the other must arrive intact
// (SHA-256) in both directions, with the bytes counted by our server. `tailscale debug derp` (the
// node's own DERP, TLS and STUN checks) must report no error.
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server } from 'node:net';
import {
  describeInterop,
  type Headscale,
  printLogsOnFailure,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DerpServer, StunServer } from '../src/index.js';
import { selfSignedCert } from './helpers.js';

const REGION_CODE = 'tsderp';
const BYTES = 4 << 20;

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

for (const tls of [true, false]) {
  describeInterop(
    `interop: two real tailscaled nodes relay through our DerpServer (${tls ? 'TLS, pinned' : 'plain HTTP'})`,
    ['headscale', 'tailscaled'],
    () => {
      let server: DerpServer | null = null;
      let stun: StunServer | null = null;
      let hs: Headscale | null = null;
      let ts1: Tailscaled | null = null;
      let ts2: Tailscaled | null = null;
      let hostServer: Server | null = null;
      let v6Server: HttpsServer | HttpServer | null = null;
      const serverLog: string[] = [];
      printLogsOnFailure(() => ({
        'our DERP server': { logs: () => serverLog.join('\n') },
        headscale: hs,
        ts1,
        ts2,
      }));

      beforeAll(async () => {
        const cert = selfSignedCert();
        server = new DerpServer({
          logf: (f, ...a) => {
            if (serverLog.length < 2000) serverLog.push([f, ...a.map(String)].join(' '));
          },
        });
        const { port } = await server.listen(
          tls ? { host: '127.0.0.1', tls: { cert: cert.cert, key: cert.key } } : { host: '127.0.0.1' },
        );
        // The same server on [::1]:port too (attach), so the node can name a loopback IPv6 address:
        // `tailscale debug derp` dials IPv6 even for "none", which would leave loopback via DNS.
        const v6 = tls ? createHttpsServer({ cert: cert.cert, key: cert.key }) : createHttpServer();
        server.attach(v6);
        await new Promise<void>((resolve, reject) => {
          v6.once('error', reject);
          v6.listen(port, '::1', resolve);
        });
        v6Server = v6;
        stun = new StunServer();
        const stunPort = await stun.listen({ host: '127.0.0.1', port: 0 });
        const region = {
          RegionID: 900,
          RegionCode: REGION_CODE,
          RegionName: 'tsnet DerpServer',
          Nodes: [
            {
              Name: '900a',
              RegionID: 900,
              HostName: '127.0.0.1',
              IPv4: '127.0.0.1',
              IPv6: '::1',
              STUNPort: stunPort,
              DERPPort: port,
              ...(tls ? { CertName: cert.pin } : {}),
            },
          ],
        };
        hs = await startHeadscale({ derpMap: { Regions: { '900': region }, OmitDefaultRegions: true } });
        const alice = await hs.createUser('alice');
        const authKey = await hs.createPreAuthKey({ user: alice.id, reusable: true, expiration: '1h' });
        const h = hs;
        // Plain HTTP DERP needs TS_DEBUG_USE_DERP_HTTP=1 in every real node (derphttp useHTTPS).
        const env: Record<string, string> = { TS_DEBUG_ALWAYS_USE_DERP: '1' };
        if (!tls) env.TS_DEBUG_USE_DERP_HTTP = '1';
        const up = async (hostname: string): Promise<Tailscaled> => {
          const t = await startTailscaled({ env });
          await t.up({ loginServer: h.url, authKey, hostname });
          return t;
        };
        const [a, b] = await Promise.all([up('ts1'), up('ts2')]);
        ts1 = a;
        ts2 = b;
      }, 90_000);

      afterAll(async () => {
        await ts1?.close();
        await ts2?.close();
        await hs?.close();
        await server?.close();
        v6Server?.closeAllConnections();
        await new Promise<void>((r) => (v6Server === null ? r() : v6Server.close(() => r())));
        await stun?.close();
        await new Promise<void>((r) => (hostServer === null ? r() : hostServer.close(() => r())));
      });

      it('both nodes connect to our server and set it as their home (NotePreferred)', async () => {
        const s = server!;
        await waitUntil('two home clients on our server', () => s.counters.currentHomeClients === 2, {
          timeoutMs: 30_000,
        });
        expect(s.counters.currentClients).toBeGreaterThanOrEqual(2);
        expect(s.counters.handshakeFailures).toBe(0);
      }, 40_000);

      // The debug tool always speaks TLS, so it checks the TLS variant only.
      it.runIf(tls)(
        "`tailscale debug derp` (tailscaled's own DERP and STUN checks) finds no error",
        async () => {
          const r = await ts1!.cli(['debug', 'derp', REGION_CODE], { timeoutMs: 60_000 });
          if (r.code !== 0) throw new Error(`tailscale debug derp: ${r.stderr}${r.stdout}`);
          const report = JSON.parse(r.stdout) as {
            Info: string[] | null;
            Warnings: string[] | null;
            Errors: string[] | null;
          };
          expect(report.Errors ?? []).toEqual([]);
          const info = (report.Info ?? []).join('\n');
          expect(info).toMatch(/Successfully established a DERP connection with node "127\.0\.0\.1"/);
          expect(info).toMatch(/returned IPv4 STUN response/);
        },
        70_000,
      );

      it('tailscale ping goes via DERP(tsderp), and status shows the relay', async () => {
        const t1 = ts1!;
        const ip2 = await ts2!.ip4();
        const ping = await waitUntil(
          'pongs over DERP',
          async () => {
            const p = await t1.ping(ip2, { count: 3, untilDirect: false, timeoutSec: 3 });
            return p.pongs.length > 0 ? p : undefined;
          },
          { timeoutMs: 30_000 },
        );
        for (const p of ping.pongs) expect(p.via).toBe(`DERP(${REGION_CODE})`);
        const peer = Object.values((await t1.status()).Peer ?? {}).find((p) => p.HostName === 'ts2');
        expect(peer?.Relay).toBe(REGION_CODE);
        expect(peer?.CurAddr).toBe('');
      }, 40_000);

      it(`TCP through ts1's SOCKS5 to a server behind ts2: ${BYTES >> 20} MiB each way, SHA-256 equal`, async () => {
        const t1 = ts1!;
        const ip2 = await ts2!.ip4();
        const down = randomBytes(BYTES);
        const up = randomBytes(BYTES);
        // ts2 forwards inbound tailnet TCP to 127.0.0.1:<same port> on this host. A one-byte request
        // picks the direction, and lengths (not half-closes, which tailscaled's SOCKS5 proxy turns into
        // full closes) delimit the data: 'D' → the server sends BYTES and closes; 'U' → it reads BYTES
        // and answers with their SHA-256 in hex.
        hostServer = createServer((sock) => {
          let mode = '';
          let n = 0;
          const h = createHash('sha256');
          sock.on('data', (d: Buffer) => {
            let rest = d;
            if (mode === '') {
              mode = String.fromCharCode(d[0]!);
              rest = d.subarray(1);
              if (mode === 'D') sock.end(down);
            }
            if (mode === 'U' && rest.length > 0) {
              h.update(rest);
              n += rest.length;
              if (n === BYTES) sock.end(h.digest('hex'));
            }
          });
          sock.on('error', () => {});
        });
        await new Promise<void>((r) => hostServer!.listen(0, '127.0.0.1', r));
        const port = (hostServer.address() as AddressInfo).port;
        const before = server!.counters.bytesSent;

        /** Opens a SOCKS5 stream to the host server through ts1 → DERP → ts2, sends `data`, reads to the end. */
        const exchange = async (data: Uint8Array): Promise<Buffer> => {
          const sock = await t1.socks5Connect(ip2, port);
          const got: Buffer[] = [];
          const done = new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('transfer timed out')), 120_000);
            sock.on('data', (d: Buffer) => got.push(d));
            sock.on('close', () => {
              clearTimeout(timer);
              resolve();
            });
            sock.on('error', (e) => {
              clearTimeout(timer);
              reject(e);
            });
          });
          sock.resume();
          sock.write(data);
          await done;
          return Buffer.concat(got);
        };

        const received = await exchange(Buffer.from('D'));
        expect(received.length).toBe(BYTES);
        expect(sha256(received)).toBe(sha256(down));
        const answer = await exchange(Buffer.concat([Buffer.from('U'), up]));
        expect(answer.toString()).toBe(sha256(up));
        // Every byte went through our relay (WireGuard adds overhead, so more than 2 × BYTES).
        expect(server!.counters.bytesSent - before).toBeGreaterThan(2 * BYTES);
      }, 150_000);
    },
  );
}
