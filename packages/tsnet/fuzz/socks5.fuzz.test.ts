// Fuzz the SOCKS5 parsers and the handshake machine with arbitrary bytes: nothing throws, memory
// held stays within one message, and a handshake's answers do not depend on how bytes are split.
import * as net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startLoopback } from '../src/loopback/loopback.js';
import { Socks5Handshake } from '../src/loopback/socks5-handshake.js';
import {
  emitGreeting,
  emitRequest,
  emitUserPass,
  isParseError,
  MAX_REQUEST_BYTES,
  MAX_USERPASS_BYTES,
  parseGreeting,
  parseReply,
  parseRequest,
  parseUserPass,
} from '../src/loopback/socks5-wire.js';

const creds = { username: 'tsnet', password: 'pw' };
const anyBytes = fc.uint8Array({ maxLength: 600 });

/** A mix of valid messages and noise, so fuzzing reaches every state. */
const sessionBytes = fc
  .array(
    fc.oneof(
      anyBytes,
      fc.constant(emitGreeting([2])),
      fc.constant(emitGreeting([0])),
      fc.constant(emitUserPass('tsnet', 'pw')),
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }))
        .map(([u, p]) => emitUserPass(u, p)),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.ipV4(), fc.integer({ min: 0, max: 65535 }))
        .map(([cmd, host, port]) => emitRequest(cmd, { type: 'ipv4', host, port })),
      fc
        .tuple(fc.ipV6(), fc.integer({ min: 0, max: 65535 }))
        .map(([host, port]) => emitRequest(1, { type: 'ipv6', host, port })),
    ),
    { maxLength: 6 },
  )
  .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])));

function run(input: Uint8Array, cuts: number[]): string {
  const hs = new Socks5Handshake(creds);
  const out: string[] = [];
  let at = 0;
  for (const end of [
    ...[...cuts].sort((a, b) => a - b).map((c) => Math.min(c, input.length)),
    input.length,
  ]) {
    const step = hs.receive(input.subarray(at, end));
    at = end;
    for (const o of step.output) out.push(Buffer.from(o).toString('hex'));
    expect(hs.buffered).toBeLessThanOrEqual(MAX_USERPASS_BYTES);
    const d = step.decision;
    if (d.kind === 'refuse') return `${out.join(' ')} refuse ${d.reason}`;
    if (d.kind === 'connect') {
      // Early data: what the machine handed over plus what was not fed yet.
      const rest = Buffer.concat([d.rest, input.subarray(at)]).toString('hex');
      return `${out.join(' ')} connect ${d.target.type} ${d.target.host} ${d.target.port} rest ${rest}`;
    }
  }
  return `${out.join(' ')} need-more`;
}

describe('SOCKS5 fuzz', () => {
  it('parsers are total on arbitrary bytes', () => {
    fc.assert(
      fc.property(anyBytes, (b) => {
        for (const parse of [parseGreeting, parseUserPass, parseRequest, parseReply]) {
          const r = parse(b);
          if (r !== null && !isParseError(r)) expect(r.length).toBeLessThanOrEqual(b.length);
        }
        const r = parseRequest(b);
        if (r !== null && !isParseError(r)) expect(r.length).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      }),
      { numRuns: 2000 },
    );
  });

  it('the handshake never throws, and one chunk or many give the same answers', () => {
    fc.assert(
      fc.property(sessionBytes, fc.array(fc.nat({ max: 700 }), { maxLength: 8 }), (input, cuts) => {
        const whole = run(input, []);
        const split = run(input, cuts);
        expect(split).toBe(whole);
      }),
      { numRuns: 1000 },
    );
  });

  it('the live listener: random bytes on real sockets, split at random, never crash it or leak a socket', async () => {
    const dialed: string[] = [];
    const lb = await startLoopback({
      dial: async (host, port) => {
        dialed.push(`${host}:${port}`);
        throw Object.assign(new Error('no tailnet here'), { code: 'EHOSTUNREACH' });
      },
      localApi: (_req, res) => res.end('ok'),
      handshakeTimeoutMs: 500,
      credential: { proxy: 'pw' },
    });
    const send = (parts: Uint8Array[]) =>
      new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: lb.port });
        s.on('error', () => {});
        s.on('data', () => {});
        s.once('close', () => resolve());
        s.once('connect', () => {
          for (const p of parts) s.write(p);
          s.end();
        });
      });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            sessionBytes,
            anyBytes,
            anyBytes.map((b) => Uint8Array.from([5, ...b])),
            fc
              .string({ maxLength: 300 })
              .map((t) => new TextEncoder().encode(`GET /${t} HTTP/1.1\r\n${t}\r\n\r\n`)),
          ),
          fc.array(fc.nat({ max: 700 }), { maxLength: 4 }),
          async (input, cuts) => {
            const points = [...new Set(cuts.map((c) => Math.min(c, input.length)))].sort((a, b) => a - b);
            const parts: Uint8Array[] = [];
            let at = 0;
            for (const c of [...points, input.length]) {
              if (c > at) parts.push(input.subarray(at, c));
              at = c;
            }
            await send(parts);
          },
        ),
        { numRuns: 80 },
      );
      const end = Date.now() + 5_000;
      while (lb.connections > 0 && Date.now() < end) await new Promise<void>((r) => setTimeout(r, 10));
      expect(lb.connections).toBe(0);
      expect(lb.stats.accepted).toBeGreaterThanOrEqual(80);
    } finally {
      await lb.close();
    }
  }, 60_000);
});
