// The path choice of one peer, sans-IO: DERP until a Pong vouches for a direct address, direct
// alone while trusted, both when trust lapses, DERP alone once the direct path is long dead; a new
// disco key forgets the path; heartbeats only while the session is active.
import { AddrPort, DiscoPrivate, NodePrivate } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import type { DiscoMessage } from '../disco/index.js';
import {
  HEARTBEAT_INTERVAL_MS,
  SESSION_ACTIVE_TIMEOUT_MS,
  TRUST_UDP_ADDR_MS,
  UPGRADE_INTERVAL_MS,
} from './constants.js';
import { type EndpointIO, NO_PATH_HOLD_TTL_MS, PeerEndpoint } from './endpoint.js';

interface Sent {
  via: 'udp' | 'derp';
  to: string;
  msg: DiscoMessage | 'data';
}

function setup() {
  const sent: Sent[] = [];
  let tx = 0;
  const io: EndpointIO = {
    nodeKey: new Uint8Array(32),
    directEnabled: true,
    sendUdp: (addr, pkt) => {
      sent.push({ via: 'udp', to: addr.toString(), msg: pkt.length === 1 ? 'data' : (last as DiscoMessage) });
      return true;
    },
    sendDerp: (region, _dst, pkt) => {
      sent.push({ via: 'derp', to: String(region), msg: pkt.length === 1 ? 'data' : (last as DiscoMessage) });
      return true;
    },
    sealDisco: (_to, msg) => {
      last = msg;
      return new Uint8Array(100);
    },
    txId: () => {
      tx++;
      return new Uint8Array(12).fill(tx);
    },
    endpoints: () => [AddrPort.parse('127.0.0.1:1')],
    logf: () => {},
    pathChanged: () => {},
  };
  let last: DiscoMessage | undefined;
  const ep = new PeerEndpoint(NodePrivate.generate().public(), io);
  const direct = AddrPort.parse('127.0.0.1:41641');
  ep.update(DiscoPrivate.generate().public(), 900, [direct]);
  const pings = () => sent.filter((s) => typeof s.msg === 'object' && s.msg.type === 'ping');
  const pong = (now: number) => {
    const p = pings().at(-1);
    if (p === undefined || typeof p.msg !== 'object' || p.msg.type !== 'ping') throw new Error('no ping');
    return ep.handlePong(p.msg.txId, direct, now);
  };
  const data = () => sent.filter((s) => s.msg === 'data');
  return { ep, io, sent, direct, pings, pong, data };
}

const D = new Uint8Array(1);

describe('PeerEndpoint path choice', () => {
  it('sends over DERP and pings candidates plus a CallMeMaybe until a Pong comes', () => {
    const { ep, sent, pings, data } = setup();
    ep.send(D, 0);
    expect(data().map((s) => s.via)).toEqual(['derp']);
    expect(pings().map((s) => s.to)).toEqual(['127.0.0.1:41641']);
    expect(
      sent.some((s) => typeof s.msg === 'object' && s.msg.type === 'callMeMaybe' && s.via === 'derp'),
    ).toBe(true);
    // Rate limited: no second ping within the interval.
    ep.send(D, 100);
    expect(pings().length).toBe(1);
  });

  it('goes direct alone after a Pong, both ways when trust lapses, DERP alone when long dead', () => {
    const { ep, pong, data, sent } = setup();
    ep.send(D, 0);
    expect(pong(10)).toBe(true);
    expect(ep.path(10)).toMatchObject({ direct: '127.0.0.1:41641', trusted: true, latencyMs: 10 });
    sent.length = 0;
    ep.send(D, 20);
    expect(data().map((s) => s.via)).toEqual(['udp']);
    // No Pong for longer than the trust time: UDP and DERP both get a copy.
    sent.length = 0;
    const later = 10 + TRUST_UDP_ADDR_MS + 1;
    ep.send(D, later);
    expect(
      data()
        .map((s) => s.via)
        .sort(),
    ).toEqual(['derp', 'udp']);
    // Heartbeats unanswered for a long time: the direct path is dropped, DERP only.
    let t = later;
    while (t < later + UPGRADE_INTERVAL_MS + 2 * TRUST_UDP_ADDR_MS) {
      t += 1000;
      ep.send(D, t);
      ep.tick(t);
    }
    expect(ep.path(t).direct).toBeUndefined();
    sent.length = 0;
    ep.send(D, t + 1);
    expect(data().map((s) => s.via)).toEqual(['derp']);
  });

  it('heartbeats keep the path trusted while the session is active, and stop after', () => {
    const { ep, pong, pings } = setup();
    ep.send(D, 0);
    pong(5);
    let t = 5;
    for (let i = 0; i < 5; i++) {
      t += HEARTBEAT_INTERVAL_MS;
      ep.tick(t);
      pong(t + 1);
      ep.send(D, t + 1);
    }
    expect(ep.path(t + 2).trusted).toBe(true);
    const n = pings().length;
    t += SESSION_ACTIVE_TIMEOUT_MS + 10;
    ep.tick(t);
    ep.tick(t + HEARTBEAT_INTERVAL_MS);
    expect(pings().length).toBe(n);
  });

  it('ignores unknown Pongs and Pongs from another address than pinged', () => {
    const { ep, pings } = setup();
    ep.send(D, 0);
    expect(ep.handlePong(new Uint8Array(12).fill(99), AddrPort.parse('127.0.0.1:41641'), 1)).toBe(false);
    const p = pings()[0];
    if (p === undefined || typeof p.msg !== 'object' || p.msg.type !== 'ping') throw new Error('no ping');
    expect(ep.handlePong(p.msg.txId, AddrPort.parse('127.0.0.1:9'), 2)).toBe(true);
    expect(ep.path(2).trusted).toBe(false);
    expect(ep.candidates().map(String)).toContain('127.0.0.1:9');
  });

  it('forgets the direct path when the peer comes back with a new disco key', () => {
    const { ep, pong } = setup();
    ep.send(D, 0);
    pong(1);
    expect(ep.path(2).trusted).toBe(true);
    ep.update(DiscoPrivate.generate().public(), 900, []);
    expect(ep.path(2)).toMatchObject({ direct: undefined, trusted: false });
  });

  it('pings every endpoint of a CallMeMaybe at once', () => {
    const { ep, pings } = setup();
    ep.handleCallMeMaybe([AddrPort.parse('127.0.0.1:5'), AddrPort.parse('127.0.0.1:6')], 0);
    expect(pings().map((s) => s.to)).toEqual(['127.0.0.1:5', '127.0.0.1:6']);
  });
  it('looks past a trusted but slow path once a minute, not past a fast one', () => {
    for (const latency of [20, 2]) {
      const { ep, io, pong, sent } = setup();
      ep.send(D, 0);
      pong(latency);
      ep.addCandidate(AddrPort.parse('127.0.0.1:7'), false);
      let t = latency;
      // Keep the session active and the path trusted with heartbeats answered.
      while (t < UPGRADE_INTERVAL_MS + 5_000) {
        t += HEARTBEAT_INTERVAL_MS;
        sent.length = 0;
        ep.send(D, t);
        ep.tick(t);
        const hb = sent.filter(
          (x) => typeof x.msg === 'object' && x.msg.type === 'ping' && x.to === '127.0.0.1:41641',
        );
        if (hb.length > 0) pong(t + latency);
        if (sent.some((x) => typeof x.msg === 'object' && x.msg.type === 'ping' && x.to === '127.0.0.1:7'))
          break;
      }
      const upgraded = t < UPGRADE_INTERVAL_MS + 5_000;
      expect(upgraded).toBe(latency > 5);
      expect(io.directEnabled).toBe(true);
    }
  });

  it('holds packets for a peer with no path yet and sends the fresh ones once its home region is known', () => {
    const { io, sent } = setup();
    const ep = new PeerEndpoint(NodePrivate.generate().public(), io);
    ep.update(DiscoPrivate.generate().public(), 0, []);
    // Six packets with no DERP region and no direct address: nothing goes out, the last four wait.
    for (let i = 0; i < 6; i++) expect(ep.send(new Uint8Array([i]), i)).toBe(true);
    expect(sent.length).toBe(0);
    expect(ep.stats.heldNoPath).toBe(6);
    ep.update(ep.discoKey, 900, [], 100);
    const data = () => sent.filter((x) => x.msg === 'data').map((x) => `${x.via}:${x.to}`);
    expect(data()).toEqual(['derp:900', 'derp:900', 'derp:900', 'derp:900']);
    expect(ep.stats.sentHeld).toBe(4);
    // Sent once: a later update sends nothing more.
    ep.update(ep.discoKey, 900, [], 200);
    expect(data().length).toBe(4);
  });

  it('drops held packets older than the hold time (WireGuard has sent a fresh initiation by then)', () => {
    const { io, sent } = setup();
    const ep = new PeerEndpoint(NodePrivate.generate().public(), io);
    ep.update(undefined, 0, []);
    ep.send(D, 0);
    ep.send(D, 4_000);
    ep.update(undefined, 900, [], NO_PATH_HOLD_TTL_MS + 1);
    expect(sent.length).toBe(1);
    expect(ep.stats.sentHeld).toBe(1);
  });

  it('a peer with no DERP region but a direct candidate: the held packet starts disco and goes direct on the Pong', () => {
    const { io, sent } = setup();
    const ep = new PeerEndpoint(NodePrivate.generate().public(), io);
    const direct = AddrPort.parse('127.0.0.1:41641');
    ep.update(DiscoPrivate.generate().public(), 0, [direct], 0);
    expect(ep.send(D, 0)).toBe(true);
    const ping = sent.find((x) => typeof x.msg === 'object' && x.msg.type === 'ping');
    if (ping === undefined || typeof ping.msg !== 'object' || ping.msg.type !== 'ping')
      throw new Error('no ping');
    expect(sent.filter((x) => x.msg === 'data')).toEqual([]);
    expect(ep.handlePong(ping.msg.txId, direct, 3)).toBe(true);
    expect(sent.filter((x) => x.msg === 'data')).toEqual([
      { via: 'udp', to: '127.0.0.1:41641', msg: 'data' },
    ]);
  });

  it('pingNow: to the trusted address alone, else to every candidate and through DERP; the first Pong answers once', () => {
    const { ep, sent, pong, pings } = setup();
    const got: Array<{ latencyMs: number; direct: string | undefined }> = [];
    const record = (p: { latencyMs: number; direct: AddrPort | undefined }) =>
      got.push({ latencyMs: p.latencyMs, direct: p.direct?.toString() });
    expect(ep.pingNow(0, record)).toBe(true);
    expect(pings().map((x) => `${x.via}:${x.to}`)).toEqual(['udp:127.0.0.1:41641', 'derp:900']);
    const [udpPing, derpPing] = pings();
    if (typeof udpPing?.msg !== 'object' || udpPing.msg.type !== 'ping') throw new Error('no udp ping');
    if (typeof derpPing?.msg !== 'object' || derpPing.msg.type !== 'ping') throw new Error('no derp ping');
    ep.handlePong(derpPing.msg.txId, undefined, 30);
    ep.handlePong(udpPing.msg.txId, AddrPort.parse('127.0.0.1:41641'), 40);
    expect(got).toEqual([{ latencyMs: 30, direct: undefined }]);
    // Now trusted (the UDP Pong vouched for it): one ping, to that address.
    sent.length = 0;
    got.length = 0;
    expect(ep.pingNow(50, record)).toBe(true);
    expect(pings().map((x) => `${x.via}:${x.to}`)).toEqual(['udp:127.0.0.1:41641']);
    pong(52);
    expect(got).toEqual([{ latencyMs: 2, direct: '127.0.0.1:41641' }]);
  });
});
