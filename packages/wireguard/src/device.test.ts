import { FakeClock, getCryptoProvider, toBase64 } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { Device } from './device.js';
import { ChannelNetwork, ChannelTun } from './testing/index.js';

describe('Device API', () => {
  it('fromConfig loads [Interface] and [Peer]; API misuse throws errors naming the argument', async () => {
    const c = getCryptoProvider();
    const priv = c.randomBytes(32);
    const peerPub = toBase64(c.x25519PublicKey(c.randomBytes(32)));
    const clock = new FakeClock();
    const net = new ChannelNetwork({ clock });
    const dev = Device.fromConfig(
      `[Interface]\nPrivateKey = ${toBase64(priv)}\nMTU = 1280\n\n[Peer]\nPublicKey = ${peerPub}\nAllowedIPs = 10.9.0.0/24\nEndpoint = 192.0.2.1:51820\nPersistentKeepalive = 25\n`,
      { bind: net.bind('me:1'), tun: new ChannelTun(), clock },
    );
    expect(toBase64(dev.publicKey)).toBe(toBase64(c.x25519PublicKey(priv)));
    expect(dev.core.mtu).toBe(1280);
    expect(dev.peers()).toEqual([
      {
        publicKey: peerPub,
        endpoint: '192.0.2.1:51820',
        allowedIps: ['10.9.0.0/24'],
        latestHandshake: 0,
        rxBytes: 0,
        txBytes: 0,
        persistentKeepalive: 25,
        hasPresharedKey: false,
      },
    ]);
    await dev.up();
    // Persistent keepalive starts a handshake at once.
    expect(dev.counters.txHandshakeInitiations).toBe(1);
    expect(() => dev.addPeer({ publicKey: peerPub })).toThrow(/already exists/);
    expect(() => dev.addPeer({ publicKey: 'short' })).toThrow(/publicKey/);
    expect(() => dev.addPeer({ publicKey: new Uint8Array(32).fill(7), allowedIps: ['nope'] })).toThrow(
      /prefix/,
    );
    expect(() => dev.updatePeer(peerPub, { persistentKeepalive: -1 })).toThrow(RangeError);
    expect(() => new Device({ privateKey: new Uint8Array(31), bind: net.bind('x:1') })).toThrow(/privateKey/);
    dev.updatePeer(peerPub, {
      endpoint: '192.0.2.9:1',
      allowedIps: ['10.8.0.0/16'],
      presharedKey: new Uint8Array(32).fill(1),
    });
    expect(dev.peerStats(peerPub)).toMatchObject({
      endpoint: '192.0.2.9:1',
      allowedIps: ['10.8.0.0/16'],
      hasPresharedKey: true,
    });
    dev.updatePeer(peerPub, { removePresharedKey: true });
    expect(dev.peerStats(peerPub)!.hasPresharedKey).toBe(false);
    clock.advance(10); // deliver what is in flight on the ChannelNetwork
    expect(clock.pending).toBeGreaterThan(0); // the device's retransmit timer
    await dev.close();
    expect(dev.send(new Uint8Array(20))).toBe(false);
    expect(clock.pending).toBe(0); // close() cancelled it
  });

  it('up() closes the Bind again when the TUN fails to open, and may be retried', async () => {
    const c = getCryptoProvider();
    let opens = 0;
    let closes = 0;
    const bind = {
      open: () => {
        opens++;
      },
      send: () => {},
      close: () => {
        closes++;
      },
    };
    let fail = true;
    const tun = {
      open: () => {
        if (fail) throw new Error('no tun');
      },
      write: () => {},
      close: () => {},
    };
    const dev = new Device({ privateKey: c.randomBytes(32), bind, tun });
    await expect(dev.up()).rejects.toThrow('no tun');
    expect([opens, closes]).toEqual([1, 1]);
    fail = false;
    await dev.up();
    expect(opens).toBe(2);
    await dev.close();
    expect(closes).toBe(2);
  });

  it('waitForHandshake rejects after its timeout on the device clock', async () => {
    const c = getCryptoProvider();
    const clock = new FakeClock();
    const net = new ChannelNetwork({ clock });
    const dev = new Device({ privateKey: c.randomBytes(32), bind: net.bind('me:1'), clock });
    await dev.up();
    const p = dev.waitForHandshake(undefined, 1000);
    clock.advance(1001);
    await expect(p).rejects.toThrow(/no handshake/);
    await dev.close();
  });
});
