import { readFileSync } from 'node:fs';
import { getCryptoProvider, MachinePrivate, MachinePublic, parseHex, toHex } from '@tsnet/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlHandshakeError, ControlProtocolError, ControlUnreachableError } from '../src/errors.js';
import { NoiseHttpClient } from '../src/ts2021/client.js';
import { dialNoise, fetchServerKey } from '../src/ts2021/dial.js';
import { EarlyPayloadStripper } from '../src/ts2021/early.js';
import { createInitiation } from '../src/ts2021/handshake.js';
import { MAX_PLAINTEXT_SIZE } from '../src/ts2021/messages.js';
import { RecordOpener, RecordSealer } from '../src/ts2021/records.js';
import { websocketAccept } from '../src/ts2021/websocket.js';
import { type FakeControl, startFakeControl } from './fake-control.js';
import { respond } from './noise-responder.js';

const hex = (s: string) => parseHex(s)!;
const vec = JSON.parse(readFileSync(new URL('./vectors/ts2021-controlbase.json', import.meta.url), 'utf8'));

describe('ts2021 handshake: upstream transcript (tailscale.com@v1.102.3 controlbase.Server)', () => {
  it('builds the exact initiation upstream accepted, and completes with its response', () => {
    const control = MachinePrivate.fromBytes(hex(vec.control_private));
    const machine = MachinePrivate.fromBytes(hex(vec.machine_private));
    expect(toHex(control.public().raw)).toBe(vec.control_public);
    expect(toHex(machine.public().raw)).toBe(vec.machine_public);
    const hs = createInitiation({
      machineKey: machine,
      controlKey: MachinePublic.parse(`mkey:${vec.control_public}`),
      version: vec.version,
      ephemeralPrivate: hex(vec.client_ephemeral_private),
    });
    expect(toHex(hs.initiation)).toBe(vec.initiation);
    // header: version big-endian, type 1, length 96 big-endian
    expect(toHex(hs.initiation.subarray(0, 5))).toBe('0073010060');
    const keys = hs.finish(hex(vec.response));
    expect(toHex(keys.handshakeHash)).toBe(vec.handshake_hash);
    const opener = new RecordOpener(keys.rx);
    const pts = opener.push(hex(vec.server_records));
    expect(pts.map((p) => p.length)).toEqual([31, MAX_PLAINTEXT_SIZE, 5000 - MAX_PLAINTEXT_SIZE]);
    expect(Buffer.from(pts[0]!).toString()).toBe(vec.server_plaintext_utf8);
    expect(pts.slice(1).every((p) => p.every((b) => b === 0))).toBe(true);
  });

  it('refuses a tampered response tag', () => {
    const resp = hex(vec.response);
    resp[50]! ^= 1;
    const hs = createInitiation({
      machineKey: MachinePrivate.fromBytes(hex(vec.machine_private)),
      controlKey: MachinePublic.parse(`mkey:${vec.control_public}`),
      version: vec.version,
      ephemeralPrivate: hex(vec.client_ephemeral_private),
    });
    expect(() => hs.finish(resp)).toThrow(ControlHandshakeError);
  });
});

describe('ts2021 handshake against the test responder', () => {
  it('agrees on keys both ways and the responder sees our machine key and version', () => {
    const control = MachinePrivate.generate();
    const machine = MachinePrivate.generate();
    const hs = createInitiation({ machineKey: machine, controlKey: control.public(), version: 115 });
    const r = respond(control.raw, hs.initiation);
    if (typeof r === 'string') throw new Error(r);
    expect(r.version).toBe(115);
    expect(toHex(r.machinePublic)).toBe(toHex(machine.public().raw));
    const keys = hs.finish(r.response);
    expect(toHex(keys.tx)).toBe(toHex(r.keys.rx));
    expect(toHex(keys.rx)).toBe(toHex(r.keys.tx));
    expect(toHex(keys.handshakeHash)).toBe(toHex(r.keys.handshakeHash));
  });

  it('fails against the wrong control key', () => {
    const hs = createInitiation({
      machineKey: MachinePrivate.generate(),
      controlKey: MachinePrivate.generate().public(),
      version: 115,
    });
    expect(respond(MachinePrivate.generate().raw, hs.initiation)).toBe('decrypting machine key');
  });

  it('rejects versions outside u16', () => {
    const k = MachinePrivate.generate();
    expect(() => createInitiation({ machineKey: k, controlKey: k.public(), version: 70000 })).toThrow(
      RangeError,
    );
  });
});

describe('ts2021 records', () => {
  const key = getCryptoProvider().randomBytes(32);

  it('splits at 4077 plaintext bytes with big-endian lengths and counters, and reassembles from 1-byte chunks', () => {
    const sealer = new RecordSealer(key);
    const data = getCryptoProvider().randomBytes(10_000);
    const frames = sealer.seal(data);
    expect(frames[0]).toBe(4);
    expect((frames[1]! << 8) | frames[2]!).toBe(4093);
    expect(sealer.counter).toBe(3);
    const opener = new RecordOpener(key);
    const got: Uint8Array[] = [];
    for (let i = 0; i < frames.length; i++) got.push(...opener.push(frames.subarray(i, i + 1)));
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(opener.counter).toBe(3);
  });

  it('an empty write is one empty record, which the reader skips', () => {
    const frames = new RecordSealer(key).seal(new Uint8Array(0));
    expect(frames.length).toBe(19);
    expect(new RecordOpener(key).push(frames)).toEqual([]);
  });

  it('kills the connection on a tampered record, a wrong type or an oversize frame', () => {
    const frames = new RecordSealer(key).seal(Uint8Array.of(1, 2, 3));
    const bad = Uint8Array.from(frames);
    bad[5]! ^= 1;
    const o = new RecordOpener(key);
    expect(() => o.push(bad)).toThrow(/authentication/);
    expect(() => o.push(frames)).toThrow(/desynchronized/);
    expect(() => new RecordOpener(key).push(Uint8Array.of(2, 0, 16))).toThrow(/unexpected type 2/);
    expect(() => new RecordOpener(key).push(Uint8Array.of(4, 0x0f, 0xfe))).toThrow(/exceeds max/);
  });

  it('fuzz: random bytes never throw anything but ControlProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const o = new RecordOpener(key);
        try {
          for (let i = 0; i < bytes.length; i += step) o.push(bytes.subarray(i, i + step));
        } catch (e) {
          expect(e).toBeInstanceOf(ControlProtocolError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('early payload', () => {
  const ep = () => {
    const json = Buffer.from('{"nodeKeyChallenge":"chalpub:00"}');
    const h = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0, 0, 0, 0]);
    h.writeUInt32BE(json.length, 5);
    return Buffer.concat([h, json]);
  };
  const h2preface = Buffer.from('\x00\x00\x12\x04\x00\x00\x00\x00\x00rest-of-h2', 'latin1');

  it('strips it in any chunking and passes HTTP/2 bytes through untouched', () => {
    const all = Buffer.concat([ep(), h2preface]);
    for (const step of [1, 2, 9, 13, all.length]) {
      const s = new EarlyPayloadStripper();
      const out: Uint8Array[] = [];
      for (let i = 0; i < all.length; i += step) out.push(...s.push(all.subarray(i, i + step)));
      expect(Buffer.concat(out).equals(h2preface)).toBe(true);
      expect(s.payload?.nodeKeyChallenge).toBe('chalpub:00');
    }
  });

  it('passes through when absent (testcontrol)', () => {
    const s = new EarlyPayloadStripper();
    expect(Buffer.concat(s.push(h2preface)).equals(h2preface)).toBe(true);
    expect(s.payload).toBeNull();
  });

  it('refuses an absurd length and fuzzes cleanly', () => {
    const s = new EarlyPayloadStripper();
    expect(() => s.push(Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0x7f, 0, 0, 0]))).toThrow(
      /early payload length/,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          new EarlyPayloadStripper().push(
            Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53, 0, 0, 0, 20]), b]),
          );
        } catch (e) {
          expect(e).toBeInstanceOf(ControlProtocolError);
        }
      }),
    );
  });
});

describe('dial over the HTTP upgrade and WebSocket, then HTTP/2', () => {
  let fake: FakeControl | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  for (const transport of ['http', 'websocket'] as const) {
    for (const earlyPayload of transport === 'http' ? [true, false] : [false]) {
      it(`${transport}, early payload ${earlyPayload}: /key, handshake, several HTTP/2 requests on one connection`, async () => {
        fake = await startFakeControl({
          earlyPayload,
          other: (method, path, ctx) => [
            200,
            `${method} ${path} from ${ctx.machinePublic.toString()} v${ctx.version}`,
          ],
        });
        const controlKey = await fetchServerKey(fake.url, 115);
        expect(controlKey.equals(fake.controlKey.public())).toBe(true);
        const machineKey = MachinePrivate.generate();
        const c = await NoiseHttpClient.connect({
          serverURL: fake.url,
          machineKey,
          controlKey,
          version: 115,
          transport,
        });
        const [r1, r2] = await Promise.all([
          c.request('GET', '/machine/a'),
          c.request('POST', '/machine/b', '{}'),
        ]);
        expect(r1.status).toBe(200);
        expect(r1.body.toString()).toBe(`GET /machine/a from ${machineKey.public().toString()} v115`);
        expect(r2.body.toString()).toMatch(/^POST \/machine\/b/);
        expect(fake.connections).toBe(1);
        if (earlyPayload) expect((await c.conn.earlyPayload())?.nodeKeyChallenge).toMatch(/^chalpub:/);
        await c.close();
      });
    }
  }

  it('surfaces the server error message of a refused handshake', async () => {
    fake = await startFakeControl({ handshakeError: 'machine is banned' });
    const k = MachinePrivate.generate();
    await expect(
      dialNoise({ serverURL: fake.url, machineKey: k, controlKey: fake.controlKey.public(), version: 115 }),
    ).rejects.toThrow('server error: "machine is banned"');
  });

  it('reports a connection closed during the handshake (headscale below its minimum version)', async () => {
    fake = await startFakeControl({ minVersion: 113 });
    const k = MachinePrivate.generate();
    await expect(
      dialNoise({ serverURL: fake.url, machineKey: k, controlKey: fake.controlKey.public(), version: 100 }),
    ).rejects.toThrow(/closed during the Noise handshake/);
  });

  it('fails the handshake against the wrong control key', async () => {
    fake = await startFakeControl();
    const k = MachinePrivate.generate();
    await expect(
      dialNoise({
        serverURL: fake.url,
        machineKey: k,
        controlKey: MachinePrivate.generate().public(),
        version: 115,
      }),
    ).rejects.toThrow(/decrypting machine key/);
  });

  it('maps /key errors to ControlUnreachableError and bounds the wait', async () => {
    fake = await startFakeControl();
    await expect(fetchServerKey(new URL('/nope/', fake.url).toString(), 115)).resolves.toBeDefined();
    await expect(fetchServerKey('http://127.0.0.1:1', 115, { timeoutMs: 2000 })).rejects.toThrow();
    const err = await fetchServerKey(fake.url.replace(/\d+$/, '1'), 115, { timeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(ControlUnreachableError);
    expect(err.code).toBe('ERR_CONTROL_UNREACHABLE');
    expect(err.cause.code).toBe('ECONNREFUSED');
  });
});

describe('regression: WebSocket accept GUID (a typo that only headscale caught)', () => {
  it('matches the RFC 6455 §1.3 example', () => {
    expect(websocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});
