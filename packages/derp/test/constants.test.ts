// The code uses the wire constants by name, not their values: with the constants module mocked to
// other values, what is sent and checked follows them.
import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import { describe, expect, it, vi } from 'vitest';
import {
  type ClientEvent,
  ClientProtocol,
  DerpServer,
  KEY_LEN,
  NONCE_LEN,
  openClientInfo,
  PROTOCOL_VERSION,
} from '../src/index.js';
import { MemoryTransport } from './memory-transport.js';

vi.mock('../src/wire/constants.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/wire/constants.js')>()),
  PROTOCOL_VERSION: 3,
  NONCE_LEN: 30,
}));

const crypto = getCryptoProvider();

describe('wire constants by name', () => {
  it('the server advertises PROTOCOL_VERSION in ServerInfo (it wrote 2)', async () => {
    expect(PROTOCOL_VERSION).toBe(3);
    const server = new DerpServer({ crypto });
    const key = NodePrivate.generate(crypto);
    const [t, serverSide] = MemoryTransport.pair();
    const proto = new ClientProtocol({
      crypto,
      privateKey: key.raw,
      publicKey: key.public(crypto).raw,
      info: { version: 2, canAckPings: true },
    });
    const events: ClientEvent[] = [];
    t.setHandlers({
      onData: (chunk) => {
        proto.receive(chunk, events);
        if (proto.outbox.length > 0) t.writeBatch(proto.outbox.splice(0));
      },
      onDrain: () => {},
      onClose: () => {},
    });
    server.accept(serverSide);
    await new Promise((r) => setImmediate(r));
    const si = events.find((e) => e.type === 'serverInfo');
    expect(si?.type === 'serverInfo' && si.info.version).toBe(3);
    await server.close();
  });

  it('openClientInfo refuses a payload shorter than a key and NONCE_LEN (it wrote 24)', () => {
    expect(NONCE_LEN).toBe(30);
    const server = NodePrivate.generate(crypto);
    expect(openClientInfo(crypto, server.raw, new Uint8Array(KEY_LEN + NONCE_LEN - 1))).toEqual({
      error: 'short client info',
    });
  });
});
