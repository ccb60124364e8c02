/**
 * Interop with the real thing: Debian's wireguard-go, its TUN device in a network namespace (so the
 * IP stack answering is the Linux kernel's), its UDP socket on 127.0.0.1 in the root namespace,
 * configured with `wg` (fixture: @tsnet/interop `startWgNetnsPeer`). Our Device runs on the
 * node:dgram UdpBind with a ChannelTun whose other side is this test:
 *
 * - we send hand-built ICMP and ICMPv6 echo requests to the kernel's tunnel addresses and receive
 *   the kernel's replies (we initiate the handshake);
 * - the kernel pings our address (`ping -c 3 -W 2` in the namespace) and the test answers through
 *   the TunDevice (wireguard-go initiates the handshake); then we rekey the same session;
 * - the same with a preshared key;
 * - `wg show` on the real side reports our handshake, endpoint and the bytes we counted.
 */
import { format } from 'node:util';
import { getCryptoProvider, toBase64 } from '@tsnet/core';
import {
  describeInterop,
  freeUdpPort,
  kernelPing,
  printLogsOnFailure,
  runOk,
  startWgNetnsPeer,
  type WgNetnsPeer,
} from '@tsnet/interop';
import { afterAll, expect, it } from 'vitest';
import { Device } from '../src/index.js';
import { parseIp } from '../src/ip.js';
import { UdpBind } from '../src/node/index.js';
import { ChannelTun } from '../src/testing/index.js';
import { echoReplyFor, icmpEcho, icmpv6Echo, ipv4, ipv6, waitFor } from './helpers.js';

interface Side {
  dev: Device;
  tun: ChannelTun;
  bind: UdpBind;
  peer: WgNetnsPeer;
  handshakes: { initiator: boolean }[];
  logs: string[];
}

const sides: Side[] = [];
/** Each test starts a wireguard-go peer (about 1 s) and pings (1 s per echo): generous for a loaded CI machine. */
const TEST_TIMEOUT_MS = 60_000;
const OUR4 = '10.201.0.2';
const OUR6 = 'fd00:201::2';
const THEIR4 = '10.201.0.1';
const THEIR6 = 'fd00:201::1';

/** Our Device and a wireguard-go peer that know each other. `answerPings`: reply to echo requests from the kernel. */
async function setup(opts: { psk?: Uint8Array; answerPings: boolean; udp6?: boolean }): Promise<Side> {
  const c = getCryptoProvider();
  const logs: string[] = [];
  const bind = opts.udp6
    ? new UdpBind({ host4: false, host6: '::1' })
    : new UdpBind({ host4: '127.0.0.1', host6: false });
  const loopback = opts.udp6 ? '[::1]' : '127.0.0.1';
  const tun = new ChannelTun();
  const dev = new Device({
    privateKey: c.randomBytes(32),
    bind,
    tun,
    logf: (fmt, ...args) => logs.push(format(fmt, ...args)),
  });
  const handshakes: { initiator: boolean }[] = [];
  dev.on('handshake', (e) => handshakes.push({ initiator: e.initiator }));
  if (opts.answerPings) {
    tun.onWrite = (p) => {
      const reply = echoReplyFor(p);
      if (reply !== null) tun.inject(reply);
    };
  }
  await dev.up();
  let peer: WgNetnsPeer;
  try {
    peer = await startWgNetnsPeer({
      peerPublicKey: toBase64(dev.publicKey),
      peerAllowedIps: [`${OUR4}/32`, `${OUR6}/128`],
      peerEndpoint: `${loopback}:${bind.port}`,
      ...(opts.psk ? { presharedKey: toBase64(opts.psk) } : {}),
    });
  } catch (err) {
    await dev.close(); // do not leave our socket open when the fixture could not start
    throw err;
  }
  dev.addPeer({
    publicKey: peer.publicKey,
    endpoint: `${loopback}:${peer.listenPort}`,
    allowedIps: [`${THEIR4}/32`, `${THEIR6}/128`],
    presharedKey: opts.psk,
  });
  const side = { dev, tun, bind, peer, handshakes, logs };
  sides.push(side);
  return side;
}

function isEchoReply(p: Uint8Array, from: string): boolean {
  const src = parseIp(from)!;
  if (src.length === 4)
    return p[0]! >> 4 === 4 && p[9] === 1 && p[20] === 0 && src.every((x, i) => p[12 + i] === x);
  return p[0]! >> 4 === 6 && p[6] === 58 && p[40] === 129 && src.every((x, i) => p[8 + i] === x);
}

describeInterop('interop: @tsnet/wireguard ↔ wireguard-go + the Linux kernel', ['wireguard'], () => {
  printLogsOnFailure(() =>
    Object.fromEntries(
      sides.flatMap((s, i) => [
        [`wireguard-go #${i}`, s.peer],
        [`our device #${i}`, { logs: () => s.logs.join('\n') }],
      ]),
    ),
  );
  afterAll(async () => {
    for (const s of sides) {
      await s.dev.close();
      await s.peer.close();
    }
  });

  it(
    'we initiate: hand-built ICMP and ICMPv6 echo requests get the kernel’s replies',
    async () => {
      const s = await setup({ answerPings: false });
      const data = new TextEncoder().encode('tsnet wireguard interop');
      expect(
        s.dev.send(ipv4([...parseIp(OUR4)!], [...parseIp(THEIR4)!], 1, icmpEcho(8, 0x4242, 1, data))),
      ).toBe(true);
      await waitFor('the kernel’s ICMP echo reply', () => s.tun.received.some((p) => isEchoReply(p, THEIR4)));
      const reply = s.tun.received.find((p) => isEchoReply(p, THEIR4))!;
      expect(Buffer.from(reply.subarray(28)).toString()).toBe('tsnet wireguard interop');
      expect(s.handshakes[0]).toEqual({ initiator: true });
      // IPv6 over the same session.
      const o6 = parseIp(OUR6)!;
      const t6 = parseIp(THEIR6)!;
      expect(s.dev.send(ipv6(o6, t6, 58, icmpv6Echo(128, o6, t6, 0x4343, 1, data)))).toBe(true);
      await waitFor('the kernel’s ICMPv6 echo reply', () =>
        s.tun.received.some((p) => isEchoReply(p, THEIR6)),
      );
      expect(s.dev.counters.dropNotAllowedSource).toBe(0);
      expect(s.dev.counters.internalErrors).toBe(0);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'wireguard-go initiates: the kernel pings our address and we answer through the TunDevice',
    async () => {
      const s = await setup({ answerPings: true });
      const r = await kernelPing(s.peer, OUR4);
      expect(r.out).toMatch(/3 (packets )?received/);
      expect(r.code).toBe(0);
      expect(s.handshakes[0]).toEqual({ initiator: false });
      const r6 = await kernelPing(s.peer, OUR6);
      expect(r6.out).toMatch(/3 (packets )?received/);
      // Now we rekey the same session (a handshake is allowed once per REKEY_TIMEOUT): the new
      // keypair becomes current, the old one previous, and traffic goes on over the new one.
      const t0 = Date.now();
      while (s.handshakes.length < 2) {
        s.dev.initiateHandshake(s.peer.publicKey);
        await new Promise((r) => setTimeout(r, 250));
        if (Date.now() - t0 > 10_000) throw new Error('no second handshake within 10 s');
      }
      expect(s.handshakes[1]).toEqual({ initiator: true });
      const kps = s.dev.core.debugPeer(s.peer.publicKey).keypairs;
      expect(kps.current?.isInitiator).toBe(true);
      expect(kps.previous).toBeDefined();
      const r2 = await kernelPing(s.peer, OUR4);
      expect(r2.out).toMatch(/3 (packets )?received/);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a preshared key: handshakes and pings both ways',
    async () => {
      const s = await setup({ psk: getCryptoProvider().randomBytes(32), answerPings: true });
      const r = await kernelPing(s.peer, OUR4);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/3 (packets )?received/);
      expect(s.dev.peerStats(s.peer.publicKey)!.hasPresharedKey).toBe(true);
      s.dev.send(ipv4([...parseIp(OUR4)!], [...parseIp(THEIR4)!], 1, icmpEcho(8, 7, 1, new Uint8Array(8))));
      await waitFor('echo reply over the PSK session', () =>
        s.tun.received.some((p) => isEchoReply(p, THEIR4)),
      );
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'the README quick start: Device.fromConfig with a [Peer] naming the server by host name',
    async () => {
      const c = getCryptoProvider();
      const priv = c.randomBytes(32);
      const peer = await startWgNetnsPeer({
        peerPublicKey: toBase64(c.x25519PublicKey(priv)),
        peerAllowedIps: [`${OUR4}/32`],
      });
      const logs: string[] = [];
      const dev = Device.fromConfig(
        `[Interface]
PrivateKey = ${toBase64(priv)}

[Peer]
PublicKey = ${peer.publicKey}
Endpoint = localhost:${peer.listenPort}
AllowedIPs = 10.201.0.0/24
PersistentKeepalive = 25
`,
        {
          bind: new UdpBind({ host4: '127.0.0.1', host6: false }),
          logf: (f, ...a) => logs.push(format(f, ...a)),
        },
      );
      const packets: Uint8Array[] = [];
      dev.on('packet', (ip) => packets.push(ip));
      const handshake = dev.waitForHandshake(peer.publicKey, 10_000);
      try {
        await dev.up(); // the persistent keepalive starts the handshake at once
        await handshake;
        expect(
          dev.send(ipv4([...parseIp(OUR4)!], [...parseIp(THEIR4)!], 1, icmpEcho(8, 1, 1, new Uint8Array(4)))),
        ).toBe(true);
        await waitFor('echo reply', () => packets.some((p) => isEchoReply(p, THEIR4)));
        expect(dev.peers()[0]!.latestHandshake).toBeGreaterThan(0);
      } catch (err) {
        throw new Error(
          `${String(err)}\n--- device log ---\n${logs.join('\n')}\n--- wireguard-go ---\n${peer.logs().slice(-3000)}`,
        );
      } finally {
        await dev.close();
        await peer.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'roaming: wireguard-go moves to a new UDP port and our Device follows it',
    async () => {
      const s = await setup({ answerPings: true });
      const first = await kernelPing(s.peer, OUR4);
      expect(first.code).toBe(0);
      expect(s.dev.peerStats(s.peer.publicKey)!.endpoint).toBe(`127.0.0.1:${s.peer.listenPort}`);
      const moved: string[] = [];
      s.dev.on('endpoint', (e) => moved.push(e.endpoint));
      const newPort = await freeUdpPort(true);
      await runOk('wg', ['set', s.peer.ifname, 'listen-port', String(newPort)]);
      // The kernel's next echo requests leave from the new port; our replies must follow them there.
      const r = await kernelPing(s.peer, OUR4);
      expect(r.out).toMatch(/3 (packets )?received/);
      expect(s.dev.peerStats(s.peer.publicKey)!.endpoint).toBe(`127.0.0.1:${newPort}`);
      expect(moved).toContain(`127.0.0.1:${newPort}`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'over IPv6 UDP ([::1]) as well',
    async () => {
      const s = await setup({ answerPings: true, udp6: true });
      s.dev.send(ipv4([...parseIp(OUR4)!], [...parseIp(THEIR4)!], 1, icmpEcho(8, 9, 1, new Uint8Array(16))));
      await waitFor('echo reply over IPv6 UDP', () => s.tun.received.some((p) => isEchoReply(p, THEIR4)));
      expect((await s.peer.wgShow()).endpoint).toBe(`[::1]:${s.bind.port}`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    '`wg show` reports our handshake, our endpoint and the bytes we sent and received',
    async () => {
      const s = sides[0]!;
      const ours = s.dev.peerStats(s.peer.publicKey)!;
      const theirs = await s.peer.wgShow();
      expect(theirs.latestHandshake).toBeGreaterThan(0);
      expect(Math.abs(theirs.latestHandshake - Math.floor(ours.latestHandshake / 1000))).toBeLessThanOrEqual(
        2,
      );
      expect(theirs.endpoint).toBe(`127.0.0.1:${s.bind.port}`);
      expect(theirs.rxBytes).toBeGreaterThan(0);
      expect(theirs.txBytes).toBeGreaterThan(0);
      // wireguard-go counts whole datagrams, as we do: the two sides agree exactly once nothing is
      // in flight (a keepalive may be, so compare until they agree, within a bound).
      let agreed = false;
      let last = '';
      for (let i = 0; i < 20 && !agreed; i++) {
        const them = await s.peer.wgShow();
        const us = s.dev.peerStats(s.peer.publicKey)!;
        agreed = them.rxBytes === us.txBytes && them.txBytes === us.rxBytes;
        last = `wireguard-go rx ${them.rxBytes} tx ${them.txBytes}; ours tx ${us.txBytes} rx ${us.rxBytes}`;
        if (!agreed) await new Promise((r) => setTimeout(r, 150));
      }
      expect(agreed, last).toBe(true);
    },
    TEST_TIMEOUT_MS,
  );
});
