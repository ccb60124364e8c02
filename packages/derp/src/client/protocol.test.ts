import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { emitFrame } from '../wire/frames.js';
import { openClientInfo, sealServerInfoFrame } from '../wire/info.js';
import { ClientProtocol } from './protocol.js';

const crypto = getCryptoProvider();

function setup(canAckPings = true) {
  const server = NodePrivate.generate();
  const client = NodePrivate.generate();
  const p = new ClientProtocol({
    crypto,
    privateKey: client.raw,
    publicKey: client.public().raw,
    info: { version: 2, canAckPings, appName: 'test' },
  });
  return { server, client, p };
}

describe('ClientProtocol (sans-IO)', () => {
  it('ServerKey → ready, with a ClientInfo the server can open', () => {
    const { server, client, p } = setup();
    const ev = p.receive(emitFrame({ type: 'ServerKey', serverKey: server.public().raw }));
    expect(ev).toEqual([{ type: 'ready', serverKey: server.public() }]);
    expect(p.state).toBe('Ready');
    const frame = p.outbox.splice(0)[0]!;
    const opened = openClientInfo(crypto, server.raw, frame.subarray(5));
    expect(opened).toEqual({
      clientKey: client.public().raw,
      info: { version: 2, canAckPings: true, appName: 'test' },
    });
  });

  it('anything else first is an invalid greeting', () => {
    const { p } = setup();
    expect(p.receive(emitFrame({ type: 'KeepAlive' }))).toEqual([
      { type: 'failed', reason: 'invalid server greeting (KeepAlive)' },
    ]);
    expect(p.state).toBe('Failed');
    expect(p.receive(emitFrame({ type: 'KeepAlive' }))).toEqual([]);
  });

  it('a ServerInfo not sealed by the server fails the connection, a genuine one is reported', () => {
    const { server, client, p } = setup();
    p.receive(emitFrame({ type: 'ServerKey', serverKey: server.public().raw }));
    const good = sealServerInfoFrame(crypto, server.raw, client.public().raw, {
      version: 2,
      tokenBucketBytesPerSecond: 100,
      tokenBucketBytesBurst: 200,
    });
    expect(p.receive(good)).toEqual([
      {
        type: 'serverInfo',
        info: { version: 2, tokenBucketBytesPerSecond: 100, tokenBucketBytesBurst: 200 },
      },
    ]);
    const forged = sealServerInfoFrame(crypto, NodePrivate.generate().raw, client.public().raw);
    expect(p.receive(forged)[0]?.type).toBe('failed');
  });

  it('answers Ping with Pong (when it says it can), reports the rest, skips unknown frames', () => {
    const { server, p } = setup();
    const peer = NodePrivate.generate().public();
    p.receive(emitFrame({ type: 'ServerKey', serverKey: server.public().raw }));
    p.outbox.length = 0;
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const ev = p.receive(
      new Uint8Array([
        ...emitFrame({ type: 'Ping', data }),
        ...emitFrame({ type: 'RecvPacket', src: peer.raw, packet: new Uint8Array([42]) }),
        ...emitFrame({ type: 'PeerGone', peer: peer.raw, reason: 1 }),
        ...emitFrame({ type: 'Health', problem: 'dup' }),
        ...emitFrame({ type: 'Restarting', reconnectInMs: 10, tryForMs: 20 }),
        ...emitFrame({ type: 'Unknown', frameType: 0x55, payload: new Uint8Array(3) }),
        ...emitFrame({ type: 'KeepAlive' }),
      ]),
    );
    expect(ev.map((e) => e.type)).toEqual([
      'ping',
      'packet',
      'peerGone',
      'health',
      'restarting',
      'keepAlive',
    ]);
    expect(p.outbox).toEqual([emitFrame({ type: 'Pong', data })]);
    expect(p.framesSkipped).toBe(1);
    const pk = ev[1];
    expect(pk?.type === 'packet' && pk.src.equals(peer) && [...pk.packet]).toEqual([42]);
  });

  it('does not pong when it told the server it cannot', () => {
    const { server, p } = setup(false);
    p.receive(emitFrame({ type: 'ServerKey', serverKey: server.public().raw }));
    p.outbox.length = 0;
    p.receive(emitFrame({ type: 'Ping', data: new Uint8Array(8) }));
    expect(p.outbox).toEqual([]);
  });
});
