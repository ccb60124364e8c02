import { createSocket } from 'node:dgram';
import { parseHex } from '@tsnet/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StunServer } from '../server/stun.js';
import { parseStunBindingRequest, stunBindingResponse } from './stun.js';

function hex(s: string): Uint8Array {
  return parseHex(s.replace(/\s+/g, '')) ?? new Uint8Array(0);
}

// RFC 5769 §2.2 and §2.3: the XOR-MAPPED-ADDRESS attribute of the sample responses.
const TX = hex('b7e7a701 bc34d686 fa87dfae');

describe('STUN', () => {
  it('XOR-MAPPED-ADDRESS matches RFC 5769 §2.2 (IPv4 192.0.2.1:32853)', () => {
    const r = stunBindingResponse(TX, new Uint8Array([192, 0, 2, 1]), 32853);
    expect(r.subarray(0, 4)).toEqual(hex('0101 000c'));
    expect(r.subarray(4, 20)).toEqual(hex(`2112a442 ${'b7e7a701bc34d686fa87dfae'}`));
    expect(r.subarray(20)).toEqual(hex('0020 0008 0001 a147 e112a643'));
  });

  it('XOR-MAPPED-ADDRESS matches RFC 5769 §2.3 (IPv6 2001:db8:1234:5678:11:2233:4455:6677 port 32853)', () => {
    const ip = hex('20010db8 12345678 00112233 44556677');
    const r = stunBindingResponse(TX, ip, 32853);
    expect(r.subarray(20)).toEqual(hex('0020 0014 0002 a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9'));
  });

  it('parses a binding request (RFC 5769 §2.1 header) and refuses other messages', () => {
    const req = new Uint8Array(20);
    req.set(hex('0001 0000 2112a442'), 0);
    req.set(TX, 8);
    expect(parseStunBindingRequest(req)).toEqual(TX);
    const resp = stunBindingResponse(TX, new Uint8Array(4), 1);
    expect(parseStunBindingRequest(resp)).toBeNull();
    expect(parseStunBindingRequest(req.subarray(0, 19))).toBeNull();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => void parseStunBindingRequest(b)));
  });

  it('StunServer answers a binding request with our own address', async () => {
    const stun = new StunServer();
    const port = await stun.listen({ host: '127.0.0.1', port: 0 });
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      const req = new Uint8Array(20);
      req.set(hex('0001 0000 2112a442'), 0);
      req.set(TX, 8);
      const reply = new Promise<Uint8Array>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no STUN reply')), 3000);
        sock.once('message', (m) => {
          clearTimeout(t);
          resolve(m);
        });
      });
      sock.send(req, port, '127.0.0.1');
      sock.send(new Uint8Array(3), port, '127.0.0.1');
      const r = await reply;
      expect(new Uint8Array(r)).toEqual(
        stunBindingResponse(TX, new Uint8Array([127, 0, 0, 1]), sock.address().port),
      );
      await new Promise((res) => setTimeout(res, 20));
      expect(stun.counters.responses).toBe(1);
    } finally {
      sock.close();
      await stun.close();
    }
  });
});
