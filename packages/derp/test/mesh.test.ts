// A regional mesh of two of our servers: each watches the other (WatchConns with the mesh key) and
// hands packets for the other's clients over as ForwardPacket.
import { NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient, DerpServer, generateMeshKey } from '../src/index.js';
import { until } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('mesh', () => {
  it('a client on server 1 and a client on server 2 reach each other through the mesh', async () => {
    const meshKey = generateMeshKey();
    const s1 = new DerpServer({ meshKey });
    const s2 = new DerpServer({ meshKey });
    const u1 = (await s1.listen()).url;
    const u2 = (await s2.listen()).url;
    cleanups.push(
      () => s1.close(),
      () => s2.close(),
    );
    s1.meshWith(u2);
    s2.meshWith(u1);
    const a = new DerpClient({ privateKey: NodePrivate.generate(), url: u1 });
    const b = new DerpClient({ privateKey: NodePrivate.generate(), url: u2 });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    await Promise.all([a.connect(), b.connect()]);
    const atB: number[] = [];
    const atA: number[] = [];
    b.on('packet', (p, src) => {
      if (src.equals(a.publicKey)) atB.push(p[0]!);
    });
    a.on('packet', (p, src) => {
      if (src.equals(b.publicKey)) atA.push(p[0]!);
    });
    // The mesh learns of b through PeerPresent; until then packets are dropped, so retry.
    await until('a reaches b via the mesh', () => {
      a.send(b.publicKey, new Uint8Array([1]));
      return atB.length > 0;
    });
    await until('b reaches a via the mesh', () => {
      b.send(a.publicKey, new Uint8Array([2]));
      return atA.length > 0;
    });
    expect(s1.counters.packetsForwardedOut).toBeGreaterThan(0);
    expect(s2.counters.packetsForwardedIn).toBeGreaterThan(0);
    // When b leaves, server 1 stops forwarding to it.
    await b.close();
    await until('route withdrawn', () => {
      const before = s1.counters.dropsByReason.unknown_dest;
      a.send(b.publicKey, new Uint8Array([3]));
      return before > 0;
    });
  });

  it('meshWith needs the mesh key', () => {
    expect(() => new DerpServer().meshWith('http://127.0.0.1:1/derp')).toThrow(/meshKey/);
  });
});
