import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { FRAME_TYPE } from './constants.js';
import { parseFrame } from './frames.js';
import {
  clientInfoJSON,
  openClientInfo,
  openServerInfo,
  parseClientInfo,
  parseServerInfo,
  sealClientInfoFrame,
  sealServerInfoFrame,
  serverInfoJSON,
} from './info.js';

const enc = new TextEncoder();

describe('ClientInfo / ServerInfo JSON', () => {
  it("uses Go's field names and omits what Go omits", () => {
    // As derp.ClientInfo marshals in derp_client.go: meshKey omitzero, version omitempty,
    // CanAckPings always, IsProber and AppName omitempty.
    expect(clientInfoJSON({ version: 2, canAckPings: true })).toBe('{"version":2,"CanAckPings":true}');
    expect(
      clientInfoJSON({ version: 2, canAckPings: false, isProber: true, appName: 'x', meshKey: 'ab' }),
    ).toBe('{"meshKey":"ab","version":2,"CanAckPings":false,"IsProber":true,"AppName":"x"}');
    expect(serverInfoJSON({ version: 2, tokenBucketBytesPerSecond: 0, tokenBucketBytesBurst: 0 })).toBe(
      '{"version":2}',
    );
  });

  it('decodes field names case-insensitively, as encoding/json does', () => {
    expect(parseClientInfo(enc.encode('{"VERSION":2,"canackpings":true,"appname":"a"}'))).toEqual({
      version: 2,
      canAckPings: true,
      appName: 'a',
    });
    expect(
      parseServerInfo(enc.encode('{"version":2,"TokenBucketBytesPerSecond":10,"tokenbucketbytesburst":5}')),
    ).toEqual({
      version: 2,
      tokenBucketBytesPerSecond: 10,
      tokenBucketBytesBurst: 5,
    });
  });

  it('refuses what is not a JSON object, without throwing', () => {
    for (const s of ['', 'null', '[1]', '"x"', '{', '\xff'])
      expect(parseClientInfo(enc.encode(s))).toBeNull();
    expect(parseServerInfo(new Uint8Array([0xff, 0xfe]))).toBeNull();
  });
});

describe('sealed handshake bodies', () => {
  const crypto = getCryptoProvider();
  const server = NodePrivate.generate();
  const client = NodePrivate.generate();
  const serverPub = server.public().raw;
  const clientPub = client.public().raw;

  it('ClientInfo opens with the server key and names the client', () => {
    const frame = sealClientInfoFrame(crypto, client.raw, clientPub, serverPub, {
      version: 2,
      canAckPings: true,
    });
    expect(frame[0]).toBe(FRAME_TYPE.ClientInfo);
    const parsed = parseFrame(frame[0]!, frame.subarray(5));
    expect(parsed.type).toBe('ClientInfo');
    const opened = openClientInfo(crypto, server.raw, frame.subarray(5));
    expect(opened).toEqual({ clientKey: clientPub, info: { version: 2, canAckPings: true } });
  });

  it('a ClientInfo claiming another key does not open', () => {
    const frame = sealClientInfoFrame(crypto, client.raw, clientPub, serverPub, {
      version: 2,
      canAckPings: true,
    });
    const forged = frame.slice(5);
    forged.set(NodePrivate.generate().public().raw, 0);
    expect(openClientInfo(crypto, server.raw, forged)).toEqual({
      error: expect.stringMatching(/does not open/),
    });
    expect(openClientInfo(crypto, server.raw, new Uint8Array(10))).toEqual({ error: 'short client info' });
    expect(openClientInfo(crypto, server.raw, new Uint8Array(256 * 1024 + 1))).toEqual({
      error: 'long client info',
    });
  });

  it('ServerInfo opens only for the client it was sealed to', () => {
    const frame = sealServerInfoFrame(crypto, server.raw, clientPub);
    expect(openServerInfo(crypto, client.raw, serverPub, frame.subarray(5))).toEqual({
      version: 2,
      tokenBucketBytesPerSecond: 0,
      tokenBucketBytesBurst: 0,
    });
    expect(openServerInfo(crypto, NodePrivate.generate().raw, serverPub, frame.subarray(5))).toBeNull();
  });
});
