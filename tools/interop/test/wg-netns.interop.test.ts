// The WireGuard fixture itself: wireguard-go in the root namespace, its interface and addresses in a
// namespace of ours. Two such peers are wired to each other over 127.0.0.1 and the two kernels ping.
import { afterAll, expect, it } from 'vitest';
import {
  describeInterop,
  printLogsOnFailure,
  run,
  runOk,
  startWgNetnsPeer,
  type WgNetnsPeer,
} from '../src/index.js';

const ECHO_SERVER = `
const net = require('node:net');
const s = net.createServer((c) => { c.write('echo:'); c.pipe(c); });
s.listen(7777, '::', () => console.log('listening'));`;
const ECHO_CLIENT = `
const net = require('node:net');
const c = net.connect(7777, process.argv[1], () => c.end('hello from 10.201.0.2'));
let out = '';
c.on('data', (d) => { out += d; });
c.on('close', () => process.stdout.write(out));
c.on('error', (e) => { console.error(e.message); process.exit(1); });
setTimeout(() => { console.error('timeout'); process.exit(1); }, 5000).unref();`;

describeInterop('wg-netns fixture', ['wireguard'], () => {
  let a: WgNetnsPeer | null = null;
  let b: WgNetnsPeer | null = null;
  printLogsOnFailure(() => ({ a, b }));
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('puts the addresses in its namespace and lists the peer in wg show', async () => {
    const caller = (await runOk('wg', ['genkey'])).trim();
    const callerPub = (await runOk('wg', ['pubkey'], { input: `${caller}\n` })).trim();
    a = await startWgNetnsPeer({
      peerPublicKey: callerPub,
      peerAllowedIps: ['10.201.0.2/32', 'fd00:201::2/128'],
      peerEndpoint: '127.0.0.1:9',
      persistentKeepalive: 0,
    });
    expect(a.ifname.length).toBeLessThanOrEqual(15);
    expect(a.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(a.address4).toBe('10.201.0.1');
    expect(a.address6).toBe('fd00:201::1');

    const addr = await a.exec(['ip', 'addr', 'show', 'dev', a.ifname]);
    expect(addr.code).toBe(0);
    expect(addr.stdout).toContain('inet 10.201.0.1/24');
    expect(addr.stdout).toContain('inet6 fd00:201::1/64');
    // Not in the root namespace.
    const root = await run('ip', ['link', 'show', a.ifname]);
    expect(root.code).not.toBe(0);

    const dump = await runOk('wg', ['show', a.ifname, 'dump']);
    expect(dump).toContain(callerPub);
    expect(dump).toContain('10.201.0.2/32');
    const show = await a.wgShow();
    expect(show).toEqual({ latestHandshake: 0, rxBytes: 0, txBytes: 0, endpoint: '127.0.0.1:9' });

    // The UDP socket stays in the root namespace.
    const ss = await runOk('ss', ['-Hlun', `sport = :${a.listenPort}`]);
    expect(ss).toContain(String(a.listenPort));
  });

  it('carries kernel traffic between two fixtures over 127.0.0.1 (IPv4 and IPv6)', async () => {
    if (a === null) throw new Error('first test did not start the fixture');
    b = await startWgNetnsPeer({
      peerPublicKey: a.publicKey,
      peerAllowedIps: ['10.201.0.1/32', 'fd00:201::1/128'],
      peerEndpoint: `127.0.0.1:${a.listenPort}`,
      address4: '10.201.0.2',
      address6: 'fd00:201::2',
      presharedKey: (await runOk('wg', ['genpsk'])).trim(),
    });
    expect(b.peerAddress4).toBe('10.201.0.1');
    const psk = (await runOk('wg', ['show', b.ifname, 'preshared-keys'])).split('\t')[1]?.trim() ?? '';
    await a.setPeer({
      peerPublicKey: b.publicKey,
      peerEndpoint: `127.0.0.1:${b.listenPort}`,
      presharedKey: psk,
    });

    // A TCP echo server on the kernel of `a` (a long-running process in its namespace, killed by
    // close()), reached from the kernel of `b` over both address families. No ping needed: node is here.
    const server = a.spawn([process.execPath, '-e', ECHO_SERVER]);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('echo server did not start')), 10_000);
      server.stdout?.once('data', () => {
        clearTimeout(t);
        resolve();
      });
    });
    for (const host of [a.address4, a.address6]) {
      const r = await b.exec([process.execPath, '-e', ECHO_CLIENT, host], { timeoutMs: 10_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`echo:hello from ${b.address4}`);
    }

    const sa = await a.wgShow();
    expect(sa.latestHandshake).toBeGreaterThan(0);
    expect(sa.rxBytes).toBeGreaterThan(0);
    expect(sa.endpoint).toBe(`127.0.0.1:${b.listenPort}`);
  });

  it('cleans up its namespaces, interfaces and processes', async () => {
    if (a === null || b === null) throw new Error('fixtures not started');
    const names = [a.namespace, b.namespace];
    await a.close();
    await b.close();
    const ns = await runOk('ip', ['netns', 'list']);
    for (const n of names) expect(ns).not.toContain(n);
    const ps = await run('pgrep', ['-f', `wireguard-go -f ${a.ifname}`]);
    expect(ps.stdout.trim()).toBe('');
    a = null;
    b = null;
  });
});
