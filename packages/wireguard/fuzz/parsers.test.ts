/**
 * Every parser against random input (never throws anything but its documented error) and every
 * wire format against fast-check round trips: parse(emit(x)) == x.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  emitMessageCookieReply,
  emitMessageInitiation,
  emitMessageResponse,
  emitMessageTransport,
  formatIp,
  parseIp,
  parseMessageCookieReply,
  parseMessageInitiation,
  parseMessageResponse,
  parseMessageTransport,
  parsePrefix,
  parseWgConfig,
  WgConfigError,
} from '../src/index.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('fuzz: parsers', () => {
  it('parseWgConfig throws only WgConfigError, on any text', () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom('[Interface]', '[Peer]', '[peer]', '# c', ''),
      fc
        .tuple(
          fc.constantFrom(
            'PrivateKey',
            'PublicKey',
            'AllowedIPs',
            'Endpoint',
            'ListenPort',
            'PersistentKeepalive',
            'PresharedKey',
            'Address',
            'MTU',
            'FwMark',
            'X',
          ),
          fc.oneof(
            fc.string(),
            fc.constantFrom(
              'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
              '10.0.0.0/8',
              '[::1]:1',
              '1.2.3.4:5',
              'off',
              '0x10',
            ),
          ),
        )
        .map(([k, v]) => `${k} = ${v}`),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 20 }), (lines) => {
        try {
          parseWgConfig(lines.join('\n'));
        } catch (e) {
          expect(e).toBeInstanceOf(WgConfigError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parseIp / parsePrefix never throw, and formatIp(parseIp(x)) round-trips', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 50 }), (t) => {
        parseIp(t);
        parsePrefix(t);
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.oneof(bytes(4), bytes(16)), (a) => {
        expect(parseIp(formatIp(a))).toEqual(a);
      }),
      { numRuns: 2000 },
    );
  });

  it('messages: parse(emit(x)) == x', () => {
    fc.assert(
      fc.property(
        u32,
        bytes(32),
        bytes(48),
        bytes(28),
        bytes(16),
        bytes(16),
        (sender, ephemeral, st, timestamp, mac1, mac2) => {
          const m = { sender, ephemeral, static: st, timestamp, mac1, mac2 };
          expect(parseMessageInitiation(emitMessageInitiation(m))).toEqual(m);
        },
      ),
    );
    fc.assert(
      fc.property(
        u32,
        u32,
        bytes(32),
        bytes(16),
        bytes(16),
        bytes(16),
        (sender, receiver, ephemeral, empty, mac1, mac2) => {
          const m = { sender, receiver, ephemeral, empty, mac1, mac2 };
          expect(parseMessageResponse(emitMessageResponse(m))).toEqual(m);
        },
      ),
    );
    fc.assert(
      fc.property(u32, bytes(24), bytes(32), (receiver, nonce, cookie) => {
        const m = { receiver, nonce, cookie };
        expect(parseMessageCookieReply(emitMessageCookieReply(m))).toEqual(m);
      }),
    );
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ minLength: 16, maxLength: 200 }),
        (receiver, counter, content) => {
          const m = { receiver, counter, content };
          expect(parseMessageTransport(emitMessageTransport(m))).toEqual(m);
        },
      ),
    );
  });
});
