// The public Server against real peers: headscale v0.29.2 + a real derper on loopback, a real
// tailscaled v1.102.3 (userspace networking) and the Go tsnet peer. One test per line of issue 10's
// "Done when": registration and status as headscale and tailscaled see them; tailscaled reaching our
// listener (SOCKS5 and `tailscale nc`) and our dial reaching what tailscaled forwards to its host;
// TS ↔ Go tsnet both ways; UDP both ways; the README's usage example; ephemeral nodes removed on
// close() and after kill -9; a restart keeping the identity; TSNET_FORCE_LOGIN; the interactive
// login with `headscale auth register`; key expiry; a 60 s control outage; ten nodes in one
// process; typed errors for bad input.
import { execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format, promisify } from 'node:util';
import { TsnetError } from '@tsnet/core';
import {
  binaryPath,
  type Derper,
  describeInterop,
  type GoPeer,
  type Headscale,
  Proc,
  printLogsOnFailure,
  run,
  startDerper,
  startGoPeer,
  startHeadscale,
  startTailscaled,
  type Tailscaled,
  waitUntil,
} from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MemoryStore, Server, type ServerOptions } from '../src/index.js';

const execFileP = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const GO_ECHO = 7;
const GO_UDP_ECHO = 9;

/** One datagram through a SOCKS5 proxy's UDP ASSOCIATE (RFC 1928 §7), answered or not within `ms`. */
async function socks5Udp(
  proxyPort: number,
  ip: string,
  port: number,
  data: Buffer,
  ms: number,
): Promise<Buffer | null> {
  const ctl = net.connect(proxyPort, '127.0.0.1');
  await once(ctl, 'connect');
  const read = (n: number) =>
    new Promise<Buffer>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= n) {
          ctl.off('data', onData);
          resolve(buf);
        }
      };
      ctl.on('data', onData);
      ctl.once('error', reject);
    });
  const udp = createSocket('udp4');
  try {
    ctl.write(Buffer.from([5, 1, 0]));
    await read(2);
    ctl.write(Buffer.from([5, 3, 0, 1, 0, 0, 0, 0, 0, 0]));
    const rep = await read(10);
    if (rep[1] !== 0) throw new Error(`UDP ASSOCIATE refused: ${rep[1]}`);
    const relayPort = rep.readUInt16BE(8);
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const hdr = Buffer.alloc(10);
    hdr[3] = 1;
    Buffer.from(ip.split('.').map(Number)).copy(hdr, 4);
    hdr.writeUInt16BE(port, 8);
    const answer = new Promise<Buffer | null>((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      udp.once('message', (m: Buffer) => {
        clearTimeout(t);
        resolve(m.subarray(10));
      });
    });
    udp.send(Buffer.concat([hdr, data]), relayPort, '127.0.0.1');
    return await answer;
  } finally {
    udp.close();
    ctl.destroy();
  }
}

/** Reads a TCP socket to its end (bounded). */
function readAll(sock: net.Socket | import('@tsnet/netstack').TcpSocket, ms = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const t = setTimeout(() => reject(new Error(`no end within ${ms} ms`)), ms);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('end', () => {
      clearTimeout(t);
      resolve(Buffer.concat(chunks));
    });
    sock.on('error', (e: Error) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

describeInterop(
  'tsnet Server against headscale, derper, tailscaled and the Go tsnet peer',
  ['derper', 'headscale', 'tailscaled', 'gopeer'],
  () => {
    let derper: Derper | null = null;
    let hs: Headscale | null = null;
    let ts: Tailscaled | null = null;
    let gopeer: GoPeer | null = null;
    let web: Server | null = null;
    let restarted: Proc | null = null;
    const servers: Server[] = [];
    const root = mkdtempSync(join(tmpdir(), 'tsnet-srv-interop-'));
    const logs: string[] = [];
    let ephemeralChild: { ip: string; killedAt: number } | null = null;
    printLogsOnFailure(() => ({
      derper,
      headscale: hs,
      tailscaled: ts,
      gopeer,
      tsnet: { logs: () => logs.slice(-300).join('\n') },
    }));

    const logf =
      (tag: string) =>
      (f: string, ...a: unknown[]) => {
        logs.push(`[${tag}] ${format(f, ...a)}`);
        if (logs.length > 5000) logs.splice(0, 2500);
      };
    function server(opts: ServerOptions): Server {
      const s = new Server({
        controlUrl: hs?.url ?? '',
        listenAddress: '127.0.0.1',
        derpUseHttp: true,
        logf: logf(opts.hostname ?? '?'),
        userLogf: logf(`${opts.hostname ?? '?'}/user`),
        ...opts,
      });
      servers.push(s);
      return s;
    }
    function H(): Headscale {
      if (hs === null) throw new Error('headscale is not running');
      return hs;
    }
    async function node(name: string) {
      const n = (await hs?.nodes())?.find((x) => x.name === name || x.givenName === name);
      return n;
    }

    beforeAll(async () => {
      derper = await startDerper();
      hs = await startHeadscale({ derpMap: derper.derpMap(), ephemeralInactivityTimeout: '70s' });
      const d = derper;
      const h = hs;
      await h.createUser('alice', { email: 'alice@example.com' });
      await h.createUser('bob', { email: 'bob@example.com' });
      const [kTs, kGo, kWeb, kEph] = await Promise.all([
        h.createPreAuthKey({ user: 'alice', expiration: '1h' }),
        h.createPreAuthKey({ user: 'alice', expiration: '1h' }),
        h.createPreAuthKey({ user: 'alice', expiration: '1h' }),
        h.createPreAuthKey({ user: 'alice', expiration: '1h', ephemeral: true }),
      ]);
      // The kill -9 child first: headscale's 70 s inactivity timeout runs while the rest is tested.
      ephemeralChild = await new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            '--conditions=@tsnet/source',
            '--import',
            tsxLoader,
            join(here, 'fixtures', 'ephemeral-node.ts'),
            h.url,
            kEph,
            'eph-killed',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error('the ephemeral child did not come up'));
        }, 60_000);
        child.stdout.on('data', (b: Buffer) => {
          const m = /^up (\S+)/m.exec(b.toString());
          if (m === null) return;
          clearTimeout(t);
          child.kill('SIGKILL');
          resolve({ ip: m[1] ?? '', killedAt: Date.now() });
        });
      });
      [ts, gopeer] = await Promise.all([
        startTailscaled({ env: d.clientEnv }),
        startGoPeer({
          controlUrl: h.url,
          authKey: kGo,
          hostname: 'gopeer',
          echo: GO_ECHO,
          udpEcho: GO_UDP_ECHO,
          env: d.clientEnv,
        }),
      ]);
      web = server({ hostname: 'tsweb', dir: join(root, 'tsweb'), authKey: kWeb });
      await Promise.all([
        ts.up({ loginServer: h.url, authKey: kTs, hostname: 'alice-box' }),
        web.up({ timeoutMs: 60_000 }),
      ]);
      const t = ts;
      await waitUntil(
        'tailscaled to see tsweb and gopeer',
        async () => {
          const peers = Object.values((await t.status()).Peer ?? {});
          return peers.some((p) => p.HostName === 'tsweb') && peers.some((p) => p.HostName === 'gopeer')
            ? true
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
    }, 180_000);

    afterAll(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await restarted?.stop();
      await Promise.all([ts?.close(), gopeer?.close()]);
      await hs?.close();
      await derper?.close();
      rmSync(root, { recursive: true, force: true });
    }, 60_000);

    it('registration and status match `headscale nodes list` and tailscaled’s `status --json`', async () => {
      const s = web as Server;
      const st = await s.status();
      const ips = [s.tailscaleIPs().ip4, s.tailscaleIPs().ip6];
      const hn = await node('tsweb');
      expect(hn?.online).toBe(true);
      expect(hn?.user).toBe('alice');
      expect([...(hn?.ipAddresses ?? [])].sort()).toEqual([...ips].sort());
      expect(st.BackendState).toBe('Running');
      expect(st.Self?.DNSName).toBe(`tsweb.${hs?.baseDomain}.`);
      const peer = Object.values((await ts?.status())?.Peer ?? {}).find((p) => p.HostName === 'tsweb');
      expect(peer?.PublicKey).toBe(String(st.Self?.PublicKey));
      expect([...(peer?.TailscaleIPs ?? [])].sort()).toEqual([...ips].sort());
      expect(peer?.DNSName).toBe(st.Self?.DNSName);
    });

    it('LocalAPI ping from our node: disco pings answered by tailscaled and the Go peer, ICMP and TSMP by tailscaled', async () => {
      const lc = await (web as Server).localClient();
      const tsIp = await (ts as Tailscaled).ip4();
      for (const ip of [tsIp, (gopeer as GoPeer).ip4]) {
        const r = await waitUntil(
          `a disco pong from ${ip}`,
          async () => {
            const p = await lc.ping(ip, 'disco');
            return p.Err === '' ? p : undefined;
          },
          { timeoutMs: 20_000 },
        );
        expect(r.LatencySeconds).toBeGreaterThan(0);
        expect(r.Endpoint !== '' || r.DERPRegionID > 0).toBe(true);
      }
      const icmp = await lc.ping(tsIp, 'ICMP');
      expect(icmp.Err).toBe('');
      expect(icmp.NodeName).toMatch(/^alice-box\./);
      const tsmp = await lc.ping(tsIp, 'TSMP');
      expect(tsmp.Err).toBe('');
      expect(tsmp.LatencySeconds).toBeGreaterThan(0);
    });

    it('the README’s usage example, as written in TypeScript: an HTTP server on :80, reached by tailscaled', async () => {
      const s = web as Server;
      const ln = await s.listen('tcp', ':80');
      const myHandler: http.RequestListener = (_req, res) => res.end('hello from tsnet-ts\n');
      const httpd = http.createServer(myHandler);
      ln.on('connection', (sock) => httpd.emit('connection', sock));
      try {
        const r = await waitUntil(
          'GET http://tsweb/ through tailscaled',
          () => ts?.httpGet('http://tsweb/', 10_000).catch(() => undefined),
          { timeoutMs: 40_000 },
        );
        expect(r?.status).toBe(200);
        expect(r?.body.toString()).toBe('hello from tsnet-ts\n');
      } finally {
        ln.close();
        httpd.close();
      }
    });

    it('tailscaled reaches our listener through its SOCKS5 proxy and `tailscale nc`', async () => {
      const s = web as Server;
      const ln = await s.listen('tcp', ':7000');
      ln.on('connection', (sock) => sock.pipe(sock));
      const ip = s.tailscaleIPs().ip4 ?? '';
      try {
        const viaSocks = await ts?.socks5Exchange(ip, 7000, 'through socks5', {
          expectBytes: 14,
          timeoutMs: 20_000,
        });
        expect(viaSocks?.toString()).toBe('through socks5');
        const viaNc = await ts?.nc('tsweb', 7000, 'through nc', { expectBytes: 10, timeoutMs: 20_000 });
        expect(viaNc?.toString()).toBe('through nc');
      } finally {
        ln.close();
      }
    });

    it('our dial reaches the service tailscaled forwards to its host (userspace networking)', async () => {
      const hostServer = net.createServer((c) => c.end('from the host of tailscaled'));
      await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', () => r()));
      const port = (hostServer.address() as net.AddressInfo).port;
      try {
        const sock = await (web as Server).dial('tcp', `alice-box:${port}`, { timeoutMs: 30_000 });
        expect((await readAll(sock)).toString()).toBe('from the host of tailscaled');
      } finally {
        hostServer.close();
      }
    });

    it('fetch() and curl through loopback() reach an HTTP service behind tailscaled; the loopback LocalAPI lists the real peers', async () => {
      const hostServer = http.createServer((req, res) => res.end(`host says ${req.url}`));
      await new Promise<void>((r) => hostServer.listen(0, '127.0.0.1', () => r()));
      const port = (hostServer.address() as net.AddressInfo).port;
      const w = web as Server;
      try {
        const res = await w.fetch(`http://alice-box:${port}/fetched`, {
          signal: AbortSignal.timeout(30_000),
        });
        expect(await res.text()).toBe('host says /fetched');
        const info = await w.loopback();
        const { stdout } = await execFileP(
          'curl',
          [
            '-sS',
            '--max-time',
            '20',
            '--socks5-hostname',
            info.address,
            '--proxy-user',
            `tsnet:${info.proxyCred}`,
            `http://alice-box:${port}/curled`,
          ],
          { timeout: 25_000 },
        );
        expect(stdout).toBe('host says /curled');
        const st = await fetch(`http://${info.address}/localapi/v0/status`, {
          headers: {
            'Sec-Tailscale': 'localapi',
            Authorization: `Basic ${Buffer.from(`:${info.localApiCred}`).toString('base64')}`,
          },
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await st.json()) as { Peer?: Record<string, { HostName: string }> };
        const names = Object.values(body.Peer ?? {}).map((p) => p.HostName);
        expect(names).toEqual(expect.arrayContaining(['alice-box', 'gopeer']));
      } finally {
        hostServer.close();
      }
    });

    it('TS → Go tsnet and Go tsnet → TS over TCP', async () => {
      const s = web as Server;
      const sock = await s.dial('tcp', `gopeer:${GO_ECHO}`, { timeoutMs: 30_000 });
      sock.end('ts to go');
      expect((await readAll(sock)).toString()).toBe('ts to go');

      const ln = await s.listen('tcp', ':7100');
      ln.on('connection', (c) => {
        let got = '';
        c.on('data', (d: Buffer) => (got += d.toString()));
        c.on('end', () => c.end(`ts heard: ${got}`));
      });
      const key = await H().createPreAuthKey({ user: 'alice', expiration: '1h', ephemeral: true });
      const dialer = await startGoPeer({
        controlUrl: hs?.url ?? '',
        authKey: key,
        hostname: 'godialer',
        ephemeral: true,
        dial: `tsweb:7100`,
        dialData: 'go to ts',
        env: derper?.clientEnv ?? {},
      });
      try {
        const line = await dialer.waitForLine((l) => l.type === 'dial', 60_000);
        expect(JSON.stringify(line)).toContain('ts heard: go to ts');
      } finally {
        await dialer.close();
        ln.close();
      }
    });

    it('UDP both ways: we to the Go peer’s UDP echo, and tailscaled (SOCKS5 UDP ASSOCIATE) to our listen("udp")', async () => {
      const s = web as Server;
      const conn = await s.dial('udp', `gopeer:${GO_UDP_ECHO}`);
      const echoed = await waitUntil(
        'an answer from the Go peer’s UDP echo',
        () =>
          new Promise<string | undefined>((resolve) => {
            const t = setTimeout(() => resolve(undefined), 1000);
            conn.once('data', (d: Buffer) => {
              clearTimeout(t);
              resolve(d.toString());
            });
            conn.write('udp ts to go');
          }),
        { timeoutMs: 30_000 },
      );
      expect(echoed).toBe('udp ts to go');
      conn.destroy();

      const ln = await s.listen('udp', ':5300');
      ln.on('connection', (c) =>
        c.on('data', (d: Buffer) => c.write(Buffer.concat([Buffer.from('ts: '), d]))),
      );
      const ip = s.tailscaleIPs().ip4 ?? '';
      const reply = await waitUntil(
        'a UDP answer through tailscaled',
        async () =>
          (await socks5Udp(ts?.socks5Port ?? 0, ip, 5300, Buffer.from('from tailscaled'), 2000)) ?? undefined,
        { timeoutMs: 30_000 },
      );
      expect(reply.toString()).toBe('ts: from tailscaled');
      ln.close();
    });

    it('an ephemeral node is removed from headscale on close()', async () => {
      const key = await H().createPreAuthKey({ user: 'alice', expiration: '1h', ephemeral: true });
      const s = server({ hostname: 'eph-closed', ephemeral: true, store: new MemoryStore(), authKey: key });
      await s.up({ timeoutMs: 60_000 });
      expect(await node('eph-closed')).toBeDefined();
      await s.close();
      await waitUntil(
        'headscale to delete eph-closed',
        async () => ((await node('eph-closed')) === undefined ? true : undefined),
        {
          timeoutMs: 20_000,
        },
      );
    });

    it('a restart with the same dir keeps the identity and addresses without a key', async () => {
      const dir = join(root, 'keeper');
      const key = await H().createPreAuthKey({ user: 'alice', expiration: '1h' });
      const a = server({ hostname: 'keeper', dir, authKey: key });
      await a.up({ timeoutMs: 60_000 });
      const before = await node('keeper');
      const ip = a.tailscaleIPs().ip4;
      const count = (await hs?.nodes())?.length;
      await a.close();
      const b = server({ hostname: 'keeper', dir });
      await b.up({ timeoutMs: 60_000 });
      expect(b.tailscaleIPs().ip4).toBe(ip);
      const after = await node('keeper');
      expect(after?.id).toBe(before?.id);
      expect((await hs?.nodes())?.length).toBe(count);
      await b.close();
    });

    it('state is Go’s format both ways: a Go tsnet state dir opens here, and ours opens in Go tsnet', async () => {
      // Go first: the Go peer registers with a key, stops, and we start from its dir without one.
      const goDir = join(root, 'from-go');
      mkdirSync(goDir, { recursive: true });
      const key = await H().createPreAuthKey({ user: 'alice', expiration: '1h' });
      const g = await startGoPeer({
        controlUrl: H().url,
        authKey: key,
        hostname: 'shared-go',
        dir: goDir,
        env: derper?.clientEnv ?? {},
      });
      const goIp = g.ip4;
      const goKey = g.up.self.publicKey;
      await g.close({ keepState: true });
      const count = (await H().nodes()).length;
      const ours = server({ hostname: 'shared-go', dir: goDir });
      const st = await ours.up({ timeoutMs: 60_000 });
      expect(ours.tailscaleIPs().ip4).toBe(goIp);
      expect(String(st.Self?.PublicKey)).toBe(goKey);
      expect((await H().nodes()).length).toBe(count);
      await ours.close();

      // Then ours: we register, stop, and the Go peer starts from our dir without a key.
      const tsDir = join(root, 'from-ts');
      const k2 = await H().createPreAuthKey({ user: 'alice', expiration: '1h' });
      const a = server({ hostname: 'shared-ts', dir: tsDir, authKey: k2 });
      const st2 = await a.up({ timeoutMs: 60_000 });
      const tsIp = a.tailscaleIPs().ip4;
      await a.close();
      const g2 = await startGoPeer({
        controlUrl: H().url,
        hostname: 'shared-ts',
        dir: tsDir,
        env: derper?.clientEnv ?? {},
      });
      try {
        expect(g2.ip4).toBe(tsIp);
        expect(g2.up.self.publicKey).toBe(String(st2.Self?.PublicKey));
      } finally {
        await g2.close({ keepState: true });
      }
    }, 180_000);

    it('TSNET_FORCE_LOGIN=1 re-registers an enrolled node with the given key', async () => {
      const dir = join(root, 'forced');
      const k1 = await H().createPreAuthKey({ user: 'alice', expiration: '1h' });
      const a = server({ hostname: 'forced', dir, authKey: k1 });
      await a.up({ timeoutMs: 60_000 });
      await a.close();
      const k2 = await H().createPreAuthKey({ user: 'bob', expiration: '1h' });
      const saved = process.env.TSNET_FORCE_LOGIN;
      process.env.TSNET_FORCE_LOGIN = '1';
      try {
        const b = server({ hostname: 'forced', dir, authKey: k2 });
        await b.up({ timeoutMs: 60_000 });
        const ip = b.tailscaleIPs().ip4 ?? '';
        const n = (await hs?.nodes())?.find((x) => x.ipAddresses.includes(ip));
        expect(n?.user).toBe('bob');
        await b.close();
      } finally {
        if (saved === undefined) delete process.env.TSNET_FORCE_LOGIN;
        else process.env.TSNET_FORCE_LOGIN = saved;
      }
    }, 120_000);

    it('an interactive login completes with `headscale auth register`, the URL shown to userLogf', async () => {
      const lines: string[] = [];
      const s = server({
        hostname: 'interactive',
        dir: join(root, 'interactive'),
        userLogf: (f, ...a) => lines.push(format(f, ...a)),
      });
      const up = s.up({ timeoutMs: 60_000 });
      up.catch(() => {});
      const line = await waitUntil(
        'the login URL in userLogf',
        () => lines.find((l) => l.includes('or go to: ')),
        {
          timeoutMs: 30_000,
        },
      );
      const url = /or go to: (\S+)/.exec(line)?.[1] ?? '';
      expect(url.startsWith(`${hs?.url}/register/`)).toBe(true);
      const authId = url.split('/').pop() ?? '';
      const r = await hs?.cli(['auth', 'register', '--auth-id', authId, '--user', 'bob']);
      expect(r?.code, r?.stderr).toBe(0);
      await up;
      expect(s.state).toBe('Running');
      expect((await node('interactive'))?.user).toBe('bob');
      await s.close();
    });

    it('a key expired by headscale is seen: the Server leaves Running', async () => {
      const key = await H().createPreAuthKey({ user: 'alice', expiration: '1h' });
      const s = server({ hostname: 'expiring', dir: join(root, 'expiring'), authKey: key });
      await s.up({ timeoutMs: 60_000 });
      const left = new Promise<string>((resolve) => s.on('state', (st) => st !== 'Running' && resolve(st)));
      const n = await node('expiring');
      await hs?.expireNode(n?.id ?? 0);
      const st = await Promise.race([
        left,
        new Promise<string>((r) => setTimeout(() => r('timeout'), 30_000)),
      ]);
      expect(st).toBe('NeedsLogin');
      await s.close();
    });

    it('an ephemeral node killed with SIGKILL is removed once headscale’s inactivity timeout passes', async () => {
      const child = ephemeralChild;
      expect(child?.ip).toMatch(/^100\./);
      const gone = async () =>
        !((await hs?.nodes()) ?? []).some((x) => x.ipAddresses.includes(child?.ip ?? ''));
      await waitUntil(
        'headscale to remove the killed ephemeral node',
        async () => ((await gone()) ? true : undefined),
        {
          timeoutMs: Math.max(5_000, 70_000 + 40_000 - (Date.now() - (child?.killedAt ?? 0))),
          intervalMs: 2_000,
        },
      );
      expect(Date.now() - (child?.killedAt ?? 0)).toBeGreaterThan(60_000);
    }, 130_000);

    it('ten Servers in one process, each reachable by tailscaled; closing them leaves no handle behind', async () => {
      const kinds = ['UDPWRAP', 'TCPWRAP', 'TCPSERVERWRAP', 'Timeout'];
      const count = () => {
        const m = new Map<string, number>();
        for (const r of process.getActiveResourcesInfo())
          if (kinds.includes(r)) m.set(r, (m.get(r) ?? 0) + 1);
        return Object.fromEntries(m);
      };
      const before = count();
      const key = await H().createPreAuthKey({
        user: 'alice',
        expiration: '1h',
        reusable: true,
        ephemeral: true,
      });
      const ten = Array.from(
        { length: 10 },
        (_, i) =>
          new Server({
            hostname: `many-${i}`,
            controlUrl: hs?.url ?? '',
            authKey: key,
            ephemeral: true,
            store: new MemoryStore(),
            listenAddress: '127.0.0.1',
            derpUseHttp: true,
            userLogf: () => {},
          }),
      );
      try {
        await Promise.all(ten.map((s) => s.up({ timeoutMs: 90_000 })));
        for (const [i, s] of ten.entries()) {
          const ln = await s.listen('tcp', ':80');
          ln.on('connection', (c) => c.end(`I am many-${i}`));
        }
        for (const [i, s] of ten.entries()) {
          const ip = s.tailscaleIPs().ip4 ?? '';
          const got = await waitUntil(
            `tailscaled to reach many-${i}`,
            async () => {
              const b = await ts?.socks5Exchange(ip, 80, '', { timeoutMs: 5_000 }).catch(() => undefined);
              return b !== undefined && b.length > 0 ? b.toString() : undefined;
            },
            { timeoutMs: 60_000 },
          );
          expect(got).toBe(`I am many-${i}`);
        }
      } finally {
        await Promise.all(ten.map((s) => s.close()));
      }
      await waitUntil(
        'handles to return to where they were',
        () => {
          const now = count();
          return kinds.every((k) => (now[k] ?? 0) <= (before[k] ?? 0) + (k === 'Timeout' ? 2 : 0))
            ? true
            : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
    }, 240_000);

    it('bad input: a wrong key is a ControlLoginError with headscale’s words; an unreachable control URL a typed error', async () => {
      const s = server({
        hostname: 'wrongkey',
        ephemeral: true,
        store: new MemoryStore(),
        authKey: 'nope-not-a-key',
      });
      const err = await s.up({ timeoutMs: 30_000 }).catch((e: unknown) => e);
      expect(TsnetError.is(err) && err.code).toBe('ERR_CONTROL_LOGIN');
      expect(String((err as { serverMessage?: string }).serverMessage)).toMatch(/key/i);
      const port = await new Promise<number>((r) => {
        const srv = net.createServer();
        srv.listen(0, '127.0.0.1', () => {
          const p = (srv.address() as net.AddressInfo).port;
          srv.close(() => r(p));
        });
      });
      const u = server({
        hostname: 'unreach',
        controlUrl: `http://127.0.0.1:${port}`,
        ephemeral: true,
        store: new MemoryStore(),
        authKey: 'k',
      });
      await expect(u.up({ timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'ERR_CONTROL_UNREACHABLE' });
    });

    // Last: it takes headscale away for a minute.
    it('a 60 s control outage: open connections live on, and control works again after', async () => {
      const s = web as Server;
      const sock = await s.dial('tcp', `gopeer:${GO_ECHO}`, { timeoutMs: 30_000 });
      const roundTrip = (msg: string) =>
        new Promise<string>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no echo of ${msg}`)), 15_000);
          sock.once('data', (d: Buffer) => {
            clearTimeout(t);
            resolve(d.toString());
          });
          sock.write(msg);
        });
      expect(await roundTrip('before')).toBe('before');
      const h = hs as Headscale;
      const ps = await run('ps', ['-eo', 'pid,args']);
      const pid = ps.stdout
        .split('\n')
        .find((l) => l.includes(h.configPath) && l.includes(' serve'))
        ?.trim()
        .split(/\s+/)[0];
      expect(pid).toBeDefined();
      process.kill(Number(pid), 'SIGKILL');
      const down = Date.now();
      for (let i = 0; Date.now() - down < 60_000; i++) {
        expect(await roundTrip(`during ${i}`)).toBe(`during ${i}`);
        await new Promise((r) => setTimeout(r, 5_000));
      }
      restarted = new Proc(
        'headscale (restarted)',
        binaryPath('headscale') ?? 'headscale',
        ['-c', h.configPath, 'serve'],
        {
          cwd: h.dir,
        },
      );
      // After: a node that joins now is in our netmap and reachable, so our map poll reconnected.
      const key = await waitUntil(
        'headscale to answer again',
        () => h.createPreAuthKey({ user: 'alice', expiration: '1h', ephemeral: true }).catch(() => undefined),
        {
          timeoutMs: 30_000,
        },
      );
      const late = server({ hostname: 'late', ephemeral: true, store: new MemoryStore(), authKey: key });
      await late.up({ timeoutMs: 60_000 });
      const ln = await late.listen('tcp', ':80');
      ln.on('connection', (c) => c.end('late and reachable'));
      const conn = await waitUntil(
        'tsweb to reach the late node',
        () => s.dial('tcp', 'late:80', { timeoutMs: 5_000 }).catch(() => undefined),
        {
          timeoutMs: 90_000,
          intervalMs: 1_000,
        },
      );
      expect((await readAll(conn)).toString()).toBe('late and reachable');
      expect(await roundTrip('after')).toBe('after');
      sock.destroy();
    }, 240_000);
  },
);
