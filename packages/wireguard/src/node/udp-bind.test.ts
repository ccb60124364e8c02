import { getCryptoProvider, toBase64 } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { A_IP, B_IP, dataPacket, packetNumber, waitFor } from '../../test/helpers.js';
import { Device } from '../device.js';
import { ChannelTun } from '../testing/index.js';
import { deviceFromConfig } from './from-config.js';
import { parseUdpEndpoint, UdpBind } from './udp-bind.js';

describe('UdpBind', () => {
  it('parses endpoints', () => {
    expect(parseUdpEndpoint('127.0.0.1:51820')).toEqual({ family: 4, address: '127.0.0.1', port: 51820 });
    expect(parseUdpEndpoint('[::1]:9')).toEqual({ family: 6, address: '::1', port: 9 });
    for (const bad of [
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '::1:9',
      'host:1',
      '[::1]',
      '1.2.3.256:1',
    ]) {
      expect(parseUdpEndpoint(bad)).toBeNull();
    }
    expect(() => new UdpBind({ port: 70000 })).toThrow(RangeError);
  });

  it('resolves host name endpoints and reports names that do not resolve', async () => {
    const c = getCryptoProvider();
    const lookup = async (host: string, family: 4 | 6) => {
      if (host === 'localhost' && family === 4) return '127.0.0.1';
      throw new Error(`ENOTFOUND ${host}`);
    };
    const bindA = new UdpBind({ host4: '127.0.0.1', host6: false, lookup });
    const bindB = new UdpBind({ host4: '127.0.0.1', host6: false });
    const tunB = new ChannelTun();
    const a = new Device({ privateKey: c.randomBytes(32), bind: bindA, tun: new ChannelTun() });
    const b = new Device({ privateKey: c.randomBytes(32), bind: bindB, tun: tunB });
    try {
      await a.up();
      await b.up();
      a.addPeer({
        publicKey: toBase64(b.publicKey),
        endpoint: `localhost:${bindB.port}`,
        allowedIps: ['10.0.0.2/32'],
      });
      b.addPeer({ publicKey: toBase64(a.publicKey), allowedIps: ['10.0.0.1/32'] });
      a.send(dataPacket(A_IP, B_IP, 5));
      await waitFor('packet at B via localhost', () => tunB.received.length === 1, 5000);
      // B's answers come from 127.0.0.1: A's endpoint roams to the address form.
      b.send(dataPacket(B_IP, A_IP, 6));
      await waitFor(
        'endpoint in address form',
        () => a.peerStats(b.publicKey)!.endpoint === `127.0.0.1:${bindB.port}`,
        5000,
      );
      bindA.send(new Uint8Array(1), 'no-such-host.invalid:1');
      await waitFor(
        'the lookup to fail',
        () => {
          try {
            bindA.send(new Uint8Array(1), 'no-such-host.invalid:1');
            return false;
          } catch (err) {
            return /cannot resolve/.test(String(err));
          }
        },
        8000,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('deviceFromConfig listens on ListenPort and talks to a peer from the file', async () => {
    const c = getCryptoProvider();
    const privA = c.randomBytes(32);
    const b = new Device({
      privateKey: c.randomBytes(32),
      bind: new UdpBind({ host4: '127.0.0.1', host6: false }),
      tun: new ChannelTun(),
    });
    const probe = new UdpBind({ host4: '127.0.0.1', host6: false });
    await probe.open(() => {});
    const port = probe.port; // a free port for ListenPort
    await probe.close();
    await b.up();
    const a = deviceFromConfig(
      `[Interface]\nPrivateKey = ${toBase64(privA)}\nListenPort = ${port}\n\n[Peer]\nPublicKey = ${toBase64(b.publicKey)}\nAllowedIPs = 10.0.0.2/32\n`,
      { tun: new ChannelTun() },
    );
    try {
      await a.up();
      b.addPeer({
        publicKey: toBase64(a.publicKey),
        endpoint: `127.0.0.1:${port}`,
        allowedIps: ['10.0.0.1/32'],
      });
      const hs = a.waitForHandshake(undefined, 5000);
      b.send(dataPacket(B_IP, A_IP, 1));
      await hs; // A answered B's initiation on ListenPort
      expect(a.peerStats(b.publicKey)!.endpoint).toMatch(/^127\.0\.0\.1:/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  for (const family of [4, 6] as const) {
    it(`two Devices over real UDP on loopback (IPv${family})`, async () => {
      const c = getCryptoProvider();
      const host = family === 4 ? '127.0.0.1' : '::1';
      const mk = () =>
        new UdpBind(family === 4 ? { host4: host, host6: false } : { host4: false, host6: host });
      const bindA = mk();
      const bindB = mk();
      const tunA = new ChannelTun();
      const tunB = new ChannelTun();
      const a = new Device({ privateKey: c.randomBytes(32), bind: bindA, tun: tunA });
      const b = new Device({ privateKey: c.randomBytes(32), bind: bindB, tun: tunB });
      try {
        await a.up();
        await b.up();
        expect(bindA.port).toBeGreaterThan(0);
        const ep = (p: number) => (family === 4 ? `${host}:${p}` : `[${host}]:${p}`);
        a.addPeer({
          publicKey: toBase64(b.publicKey),
          endpoint: ep(bindB.port),
          allowedIps: ['10.0.0.2/32'],
        });
        b.addPeer({ publicKey: toBase64(a.publicKey), allowedIps: ['10.0.0.1/32'] });
        const hs = a.waitForHandshake(toBase64(b.publicKey), 5000);
        a.send(dataPacket(A_IP, B_IP, 11));
        await hs;
        await waitFor('packet at B', () => tunB.received.length === 1, 5000);
        expect(b.peerStats(a.publicKey)!.endpoint).toBe(ep(bindA.port));
        b.send(dataPacket(B_IP, A_IP, 12));
        await waitFor('packet at A', () => tunA.received.length === 1, 5000);
        expect(packetNumber(tunA.received[0]!)).toBe(12);
        expect(() => bindA.send(new Uint8Array(1), 'nonsense')).toThrow(TypeError);
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});
