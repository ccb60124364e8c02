// Fuzz: a server fed random bytes — before the handshake, or after a valid one — and a client
// protocol fed random bytes never throw, never crash, and close or drop as Go would.
import { FakeClock, getCryptoProvider, NodePrivate } from '@tsnet/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClientProtocol, DerpServer, emitFrame, sealClientInfoFrame } from '../src/index.js';
import { MemoryTransport } from '../test/memory-transport.js';

const crypto = getCryptoProvider();
const flush = () => new Promise((r) => setImmediate(r));

describe('fuzz: server and client protocol', () => {
  it('random streams into a fresh server connection: no throw, the server keeps serving', async () => {
    const server = new DerpServer({ clock: new FakeClock() });
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), async (chunks) => {
          const [c, s] = MemoryTransport.pair();
          c.setHandlers({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
          server.accept(s);
          for (const ch of chunks) c.writeBatch([ch]);
          await flush();
          c.destroy();
          await flush();
        }),
        { numRuns: 150 },
      );
      expect(server.counters.currentClients).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('random frames after a valid handshake: no throw; packets to a real peer still arrive', async () => {
    const server = new DerpServer({ clock: new FakeClock() });
    const peerKey = NodePrivate.generate();
    const [pc, ps] = MemoryTransport.pair();
    let peerPackets = 0;
    const peerProto = new ClientProtocol({
      crypto,
      privateKey: peerKey.raw,
      publicKey: peerKey.public().raw,
      info: { version: 2, canAckPings: true },
    });
    pc.setHandlers({
      onData: (d) => {
        for (const e of peerProto.receive(d)) if (e.type === 'packet') peerPackets++;
        if (peerProto.outbox.length > 0) pc.writeBatch(peerProto.outbox.splice(0));
      },
      onDrain: () => {},
      onClose: () => {},
    });
    server.accept(ps);
    await flush();
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({ t: fc.integer({ min: 0, max: 0x20 }), p: fc.uint8Array({ maxLength: 100 }) }),
            {
              maxLength: 6,
            },
          ),
          async (frames) => {
            const key = NodePrivate.generate();
            const [c, s] = MemoryTransport.pair();
            c.setHandlers({ onData: () => {}, onDrain: () => {}, onClose: () => {} });
            server.accept(s);
            await flush();
            c.writeBatch([
              sealClientInfoFrame(crypto, key.raw, key.public().raw, server.publicKey.raw, {
                version: 2,
                canAckPings: true,
              }),
            ]);
            for (const f of frames) {
              const b = new Uint8Array(5 + f.p.length);
              b[0] = f.t;
              new DataView(b.buffer).setUint32(1, f.p.length);
              b.set(f.p, 5);
              c.writeBatch([b]);
            }
            c.writeBatch([
              emitFrame({ type: 'SendPacket', dst: peerKey.public().raw, packet: new Uint8Array([1]) }),
            ]);
            await flush();
            c.destroy();
            await flush();
          },
        ),
        { numRuns: 150 },
      );
      expect(server.isConnected(peerKey.public())).toBe(true);
      expect(peerPackets).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('random bytes into the client protocol: no throw; a bad greeting fails the connection', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (chunks) => {
        const key = NodePrivate.generate();
        const p = new ClientProtocol({
          crypto,
          privateKey: key.raw,
          publicKey: key.public().raw,
          info: { version: 2, canAckPings: true },
        });
        for (const c of chunks) p.receive(c);
        expect(['AwaitServerKey', 'Ready', 'Failed']).toContain(p.state);
      }),
      { numRuns: 1000 },
    );
  });
});
