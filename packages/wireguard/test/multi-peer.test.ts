/**
 * More than two devices: a hub that forwards between spokes (allowed IPs chosen per peer both
 * ways), and one device with many peers.
 */
import { FakeClock, getCryptoProvider, toBase64 } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { Device } from '../src/index.js';
import { ChannelNetwork, ChannelTun } from '../src/testing/index.js';
import { dataPacket, packetNumber } from './helpers.js';

const c = getCryptoProvider();

describe('multi-peer', () => {
  it('a hub forwards between two spokes; each side routes and filters by its own allowed IPs', async () => {
    const clock = new FakeClock();
    const net = new ChannelNetwork({ clock });
    const mk = (name: string) => {
      const tun = new ChannelTun();
      const dev = new Device({ privateKey: c.randomBytes(32), bind: net.bind(`${name}:1`), tun, clock });
      return { dev, tun, key: '' };
    };
    const hub = mk('hub');
    const a = mk('a');
    const b = mk('b');
    for (const x of [hub, a, b]) x.key = toBase64(x.dev.publicKey);
    hub.dev.addPeer({ publicKey: a.key, allowedIps: ['10.0.0.1/32'] });
    hub.dev.addPeer({ publicKey: b.key, allowedIps: ['10.0.0.2/32'] });
    a.dev.addPeer({
      publicKey: hub.key,
      endpoint: 'hub:1',
      allowedIps: ['10.0.0.0/24'],
      persistentKeepalive: 25,
    });
    b.dev.addPeer({
      publicKey: hub.key,
      endpoint: 'hub:1',
      allowedIps: ['10.0.0.0/24'],
      persistentKeepalive: 25,
    });
    // The hub's "kernel" forwards every packet back into the tunnel (IP forwarding).
    hub.tun.onWrite = (p) => hub.tun.inject(p);
    for (const x of [hub, a, b]) await x.dev.up();
    clock.advance(50); // persistent keepalives: both spokes shake hands with the hub
    a.dev.send(dataPacket([10, 0, 0, 1], [10, 0, 0, 2], 1));
    b.dev.send(dataPacket([10, 0, 0, 2], [10, 0, 0, 1], 2));
    clock.advance(50);
    expect(b.tun.received.map(packetNumber)).toEqual([1]);
    expect(a.tun.received.map(packetNumber)).toEqual([2]);
    // A claims B's address as its source: the hub drops it (not in A's allowed IPs).
    a.dev.send(dataPacket([10, 0, 0, 2], [10, 0, 0, 2], 3));
    clock.advance(50);
    expect(hub.dev.counters.dropNotAllowedSource).toBe(1);
    expect(b.tun.received.map(packetNumber)).toEqual([1]);
    // The hub has no route for 10.0.0.9.
    a.dev.send(dataPacket([10, 0, 0, 1], [10, 0, 0, 9], 4));
    clock.advance(50);
    expect(hub.dev.counters.dropNoRoute).toBe(1);
    for (const x of [hub, a, b]) await x.dev.close();
  });

  it('one device, 64 peers: each handshakes, routes by destination, and idles without timers', async () => {
    const clock = new FakeClock();
    const net = new ChannelNetwork({ clock });
    const server = new Device({
      privateKey: c.randomBytes(32),
      bind: net.bind('srv:1'),
      tun: new ChannelTun(),
      clock,
    });
    await server.up();
    const clients: { dev: Device; tun: ChannelTun }[] = [];
    for (let i = 0; i < 64; i++) {
      const tun = new ChannelTun();
      const dev = new Device({ privateKey: c.randomBytes(32), bind: net.bind(`c${i}:1`), tun, clock });
      await dev.up();
      dev.addPeer({ publicKey: server.publicKey, endpoint: 'srv:1', allowedIps: ['10.1.0.0/16'] });
      server.addPeer({ publicKey: dev.publicKey, allowedIps: [`10.2.${i}.0/24`] });
      clients.push({ dev, tun });
    }
    for (const [i, { dev }] of clients.entries()) dev.send(dataPacket([10, 2, i, 1], [10, 1, 0, 1], i));
    clock.advance(50);
    expect(server.counters.rxDataPackets).toBe(64);
    for (let i = 0; i < clients.length; i++) server.send(dataPacket([10, 1, 0, 1], [10, 2, i, 7], 1000 + i));
    clock.advance(50);
    expect(clients.map(({ tun }) => tun.received.map(packetNumber))).toEqual(
      clients.map((_, i) => [1000 + i]),
    );
    expect(server.peers().every((p) => p.latestHandshake > 0)).toBe(true);
    expect(server.core.debugIndexTableSize()).toBeGreaterThanOrEqual(64);
    // Removing half the peers removes their indices too (no leak, no table scan needed).
    for (const { dev } of clients.slice(0, 32)) server.removePeer(dev.publicKey);
    expect(server.peers()).toHaveLength(32);
    expect(server.core.debugIndexTableSize()).toBeLessThanOrEqual(3 * 32);
    // After 3 × REJECT_AFTER_TIME of silence every key is gone and no timer is left.
    clock.advance(10 * 60_000);
    expect(server.core.pollAt()).toBe(Number.POSITIVE_INFINITY);
    expect(server.core.debugIndexTableSize()).toBe(0);
    for (const { dev } of clients) await dev.close();
    await server.close();
  });
});
