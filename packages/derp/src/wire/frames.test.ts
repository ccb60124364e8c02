import { parseHex } from '@tsnet/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_TYPE, looksLikeDisco, MAX_PACKET_SIZE } from './constants.js';
import { type EmittableFrame, emitFrame, encodeRecvPacket, encodeSendPacket, parseFrame } from './frames.js';

function hex(s: string): Uint8Array {
  const b = parseHex(s.replace(/\s+/g, ''));
  if (b === null) throw new Error(`bad hex ${s}`);
  return b;
}

const K1 = new Uint8Array(32).map((_, i) => i + 1); // 01 02 … 20
const K2 = new Uint8Array(32).map((_, i) => 0xa0 + i); // a0 … bf
const K1_HEX = '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20';
const K2_HEX = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf';

/** Splits a whole frame into its header fields and payload, checking the header. */
function payloadOf(frame: Uint8Array): { type: number; payload: Uint8Array } {
  const len = ((frame[1]! << 24) | (frame[2]! << 16) | (frame[3]! << 8) | frame[4]!) >>> 0;
  expect(frame.length).toBe(5 + len);
  return { type: frame[0]!, payload: frame.subarray(5) };
}

// Golden frames: each hand-assembled from the layouts documented in tailscale derp/derp.go
// (v1.102.3) — type byte, big-endian u32 length, payload — and the parsed value it must give.
const GOLDEN: Array<{ name: string; bytes: string; frame: EmittableFrame }> = [
  {
    name: 'ServerKey (magic "DERP🔑" then the key)',
    bytes: `01 00000028 44455250f09f9491 ${K1_HEX}`,
    frame: { type: 'ServerKey', serverKey: K1 },
  },
  {
    name: 'ClientInfo (key, then nonce‖box; the box is opaque here)',
    bytes: `02 0000003c ${K1_HEX} ${'ee'.repeat(24)} 01020304`,
    frame: { type: 'ClientInfo', clientKey: K1, sealed: hex(`${'ee'.repeat(24)}01020304`) },
  },
  {
    name: 'ServerInfo (nonce‖box)',
    bytes: `03 0000001a ${'dd'.repeat(24)} 0a0b`,
    frame: { type: 'ServerInfo', sealed: hex(`${'dd'.repeat(24)}0a0b`) },
  },
  {
    name: 'SendPacket (destination key, packet)',
    bytes: `04 00000023 ${K2_HEX} 68 69 21`,
    frame: { type: 'SendPacket', dst: K2, packet: hex('686921') },
  },
  {
    name: 'RecvPacket v2 (source key, packet)',
    bytes: `05 00000022 ${K1_HEX} ffff`,
    frame: { type: 'RecvPacket', src: K1, packet: hex('ffff') },
  },
  { name: 'KeepAlive (empty)', bytes: '06 00000000', frame: { type: 'KeepAlive' } },
  { name: 'NotePreferred true', bytes: '07 00000001 01', frame: { type: 'NotePreferred', preferred: true } },
  {
    name: 'NotePreferred false',
    bytes: '07 00000001 00',
    frame: { type: 'NotePreferred', preferred: false },
  },
  {
    name: 'PeerGone NotHere',
    bytes: `08 00000021 ${K2_HEX} 01`,
    frame: { type: 'PeerGone', peer: K2, reason: 1 },
  },
  {
    name: 'PeerPresent with ::ffff:127.0.0.1 port 41641 flags regular',
    bytes: `09 00000033 ${K1_HEX} 00000000000000000000ffff7f000001 a2a9 01`,
    frame: {
      type: 'PeerPresent',
      peer: K1,
      ip: hex('00000000000000000000ffff7f000001'),
      port: 41641,
      flags: 1,
    },
  },
  {
    name: 'ForwardPacket (src, dst, packet)',
    bytes: `0a 00000041 ${K1_HEX} ${K2_HEX} 7e`,
    frame: { type: 'ForwardPacket', src: K1, dst: K2, packet: hex('7e') },
  },
  { name: 'WatchConns (empty)', bytes: '10 00000000', frame: { type: 'WatchConns' } },
  { name: 'ClosePeer', bytes: `11 00000020 ${K2_HEX}`, frame: { type: 'ClosePeer', peer: K2 } },
  {
    name: 'Ping',
    bytes: '12 00000008 0102030405060708',
    frame: { type: 'Ping', data: hex('0102030405060708') },
  },
  {
    name: 'Pong',
    bytes: '13 00000008 0807060504030201',
    frame: { type: 'Pong', data: hex('0807060504030201') },
  },
  {
    name: 'Health with a problem',
    bytes: '14 00000003 647570',
    frame: { type: 'Health', problem: 'dup' },
  },
  { name: 'Health cleared', bytes: '14 00000000', frame: { type: 'Health', problem: '' } },
  {
    name: 'Restarting (reconnect in 1000 ms, try for 5000 ms)',
    bytes: '15 00000008 000003e8 00001388',
    frame: { type: 'Restarting', reconnectInMs: 1000, tryForMs: 5000 },
  },
  {
    name: 'an unknown type is carried opaquely',
    bytes: '7f 00000002 abcd',
    frame: { type: 'Unknown', frameType: 0x7f, payload: hex('abcd') },
  },
];

describe('frames: golden bytes', () => {
  for (const g of GOLDEN) {
    it(`${g.name}: emit and parse`, () => {
      const bytes = hex(g.bytes);
      expect(emitFrame(g.frame)).toEqual(bytes);
      const { type, payload } = payloadOf(bytes);
      expect(parseFrame(type, payload)).toEqual(g.frame);
    });
  }

  it('covers every frame type', () => {
    const covered = new Set<string>(GOLDEN.map((g) => g.frame.type));
    for (const name of Object.keys(FRAME_TYPE)) expect(covered.has(name)).toBe(true);
  });

  it('the hot-path encoders give the same bytes as emitFrame', () => {
    const pkt = new Uint8Array([1, 2, 3]);
    expect(encodeSendPacket(K2, pkt)).toEqual(emitFrame({ type: 'SendPacket', dst: K2, packet: pkt }));
    expect(encodeRecvPacket(K1, pkt)).toEqual(emitFrame({ type: 'RecvPacket', src: K1, packet: pkt }));
  });
});

describe('frames: what older and newer peers send', () => {
  it('PeerGone without a reason byte (older servers) means Disconnected', () => {
    expect(parseFrame(FRAME_TYPE.PeerGone, K1)).toEqual({ type: 'PeerGone', peer: K1, reason: 0 });
  });

  it('PeerPresent from older servers: key only, or key + address without flags', () => {
    expect(parseFrame(FRAME_TYPE.PeerPresent, K1)).toEqual({ type: 'PeerPresent', peer: K1 });
    const withAddr = hex(`${K1_HEX} 00000000000000000000ffff0a000001 0050`);
    expect(parseFrame(FRAME_TYPE.PeerPresent, withAddr)).toEqual({
      type: 'PeerPresent',
      peer: K1,
      ip: hex('00000000000000000000ffff0a000001'),
      port: 80,
    });
  });

  it('ServerKey with extra bytes for future use keeps the key', () => {
    const p = hex(`44455250f09f9491 ${K1_HEX} 0000`);
    expect(parseFrame(FRAME_TYPE.ServerKey, p)).toEqual({ type: 'ServerKey', serverKey: K1 });
  });

  it('Ping with a longer body (a server accepts up to 1000 bytes) uses the first 8', () => {
    const p = new Uint8Array(20).fill(9);
    expect(parseFrame(FRAME_TYPE.Ping, p)).toEqual({ type: 'Ping', data: new Uint8Array(8).fill(9) });
  });

  it('KeepAlive ignores a payload', () => {
    expect(parseFrame(FRAME_TYPE.KeepAlive, new Uint8Array(3))).toEqual({ type: 'KeepAlive' });
  });
});

describe('frames: truncated and impossible payloads become Invalid, never throw', () => {
  const cases: Array<[string, number, Uint8Array]> = [
    ['short ServerKey', FRAME_TYPE.ServerKey, new Uint8Array(39)],
    ['ServerKey bad magic', FRAME_TYPE.ServerKey, new Uint8Array(40)],
    ['short ClientInfo', FRAME_TYPE.ClientInfo, new Uint8Array(55)],
    ['short ServerInfo', FRAME_TYPE.ServerInfo, new Uint8Array(23)],
    ['short SendPacket', FRAME_TYPE.SendPacket, new Uint8Array(31)],
    ['SendPacket over 64 KiB', FRAME_TYPE.SendPacket, new Uint8Array(32 + MAX_PACKET_SIZE + 1)],
    ['short RecvPacket', FRAME_TYPE.RecvPacket, new Uint8Array(31)],
    ['NotePreferred empty', FRAME_TYPE.NotePreferred, new Uint8Array(0)],
    ['NotePreferred 2 bytes', FRAME_TYPE.NotePreferred, new Uint8Array(2)],
    ['short PeerGone', FRAME_TYPE.PeerGone, new Uint8Array(31)],
    ['short PeerPresent', FRAME_TYPE.PeerPresent, new Uint8Array(31)],
    ['short ForwardPacket', FRAME_TYPE.ForwardPacket, new Uint8Array(63)],
    ['ForwardPacket over 64 KiB', FRAME_TYPE.ForwardPacket, new Uint8Array(64 + MAX_PACKET_SIZE + 1)],
    ['WatchConns with a body', FRAME_TYPE.WatchConns, new Uint8Array(1)],
    ['ClosePeer 31 bytes', FRAME_TYPE.ClosePeer, new Uint8Array(31)],
    ['ClosePeer 33 bytes', FRAME_TYPE.ClosePeer, new Uint8Array(33)],
    ['short Ping', FRAME_TYPE.Ping, new Uint8Array(7)],
    ['short Pong', FRAME_TYPE.Pong, new Uint8Array(7)],
    ['short Restarting', FRAME_TYPE.Restarting, new Uint8Array(7)],
  ];
  for (const [name, type, payload] of cases) {
    it(name, () => {
      const f = parseFrame(type, payload);
      expect(f.type).toBe('Invalid');
    });
  }

  it('exactly 64 KiB of packet is allowed', () => {
    expect(parseFrame(FRAME_TYPE.SendPacket, new Uint8Array(32 + MAX_PACKET_SIZE)).type).toBe('SendPacket');
  });
});

describe('frames: emit refuses what cannot go on the wire', () => {
  it('names the argument', () => {
    expect(() =>
      emitFrame({ type: 'SendPacket', dst: new Uint8Array(31), packet: new Uint8Array(1) }),
    ).toThrow(/dst must be 32 bytes/);
    expect(() => encodeSendPacket(K1, new Uint8Array(MAX_PACKET_SIZE + 1))).toThrow(RangeError);
    expect(() => emitFrame({ type: 'Restarting', reconnectInMs: -1, tryForMs: 0 })).toThrow(/reconnectInMs/);
    expect(() => emitFrame({ type: 'PeerGone', peer: K1, reason: 256 })).toThrow(/reason/);
    expect(() =>
      emitFrame({ type: 'Unknown', frameType: FRAME_TYPE.Ping, payload: new Uint8Array(8) }),
    ).toThrow(/known type/);
  });
});

describe('frames: round trips (property)', () => {
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
  const bytes8 = fc.uint8Array({ minLength: 8, maxLength: 8 });
  const packet = fc.uint8Array({ maxLength: 2000 });
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const frameArb: fc.Arbitrary<EmittableFrame> = fc.oneof(
    key.map((serverKey) => ({ type: 'ServerKey' as const, serverKey })),
    fc.record({ clientKey: key, sealed: fc.uint8Array({ minLength: 24, maxLength: 200 }) }).map((r) => ({
      type: 'ClientInfo' as const,
      ...r,
    })),
    fc
      .uint8Array({ minLength: 24, maxLength: 200 })
      .map((sealed) => ({ type: 'ServerInfo' as const, sealed })),
    fc.record({ dst: key, packet }).map((r) => ({ type: 'SendPacket' as const, ...r })),
    fc.record({ src: key, packet }).map((r) => ({ type: 'RecvPacket' as const, ...r })),
    fc.constant({ type: 'KeepAlive' as const }),
    fc.boolean().map((preferred) => ({ type: 'NotePreferred' as const, preferred })),
    fc
      .record({ peer: key, reason: fc.integer({ min: 0, max: 255 }) })
      .map((r) => ({ type: 'PeerGone' as const, ...r })),
    fc
      .record({
        peer: key,
        ip: fc.uint8Array({ minLength: 16, maxLength: 16 }),
        port: fc.integer({ min: 0, max: 0xffff }),
        flags: fc.integer({ min: 0, max: 255 }),
      })
      .map((r) => ({ type: 'PeerPresent' as const, ...r })),
    fc.record({ src: key, dst: key, packet }).map((r) => ({ type: 'ForwardPacket' as const, ...r })),
    fc.constant({ type: 'WatchConns' as const }),
    key.map((peer) => ({ type: 'ClosePeer' as const, peer })),
    bytes8.map((data) => ({ type: 'Ping' as const, data })),
    bytes8.map((data) => ({ type: 'Pong' as const, data })),
    fc.string().map((problem) => ({ type: 'Health' as const, problem })),
    fc.record({ reconnectInMs: u32, tryForMs: u32 }).map((r) => ({ type: 'Restarting' as const, ...r })),
  );

  it('parse(emit(f)) == f', () => {
    fc.assert(
      fc.property(frameArb, (f) => {
        const { type, payload } = payloadOf(emitFrame(f));
        const back = parseFrame(type, payload);
        if (f.type === 'Health') {
          // Lone surrogates do not survive UTF-8; compare through the same encoding.
          expect(back).toEqual({
            type: 'Health',
            problem: new TextDecoder().decode(new TextEncoder().encode(f.problem)),
          });
        } else {
          expect(back).toEqual(f);
        }
      }),
    );
  });
});

describe('looksLikeDisco', () => {
  it('wants the magic and room for a key and nonce', () => {
    const p = new Uint8Array(62);
    p.set([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
    expect(looksLikeDisco(p)).toBe(true);
    expect(looksLikeDisco(p.subarray(0, 61))).toBe(false);
    p[0] = 0;
    expect(looksLikeDisco(p)).toBe(false);
  });
});
