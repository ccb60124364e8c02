import { describe, expect, it } from 'vitest';
import * as C from './constants.js';

// Every constant against the values in the WireGuard paper §6 and wireguard-go device/constants.go.
describe('constants', () => {
  it('specification constants', () => {
    expect(C.REKEY_AFTER_MESSAGES).toBe(2 ** 60);
    expect(C.REJECT_AFTER_MESSAGES_SPEC).toBe(2n ** 64n - 2n ** 13n - 1n);
    expect(C.REJECT_AFTER_MESSAGES).toBe(2 ** 53 - 1); // clamped: counters are numbers
    expect(C.REKEY_AFTER_TIME_MS).toBe(120_000);
    expect(C.REKEY_ATTEMPT_TIME_MS).toBe(90_000);
    expect(C.REKEY_TIMEOUT_MS).toBe(5_000);
    expect(C.MAX_TIMER_HANDSHAKES).toBe(18);
    expect(C.REKEY_TIMEOUT_JITTER_MAX_MS).toBe(334);
    expect(C.REJECT_AFTER_TIME_MS).toBe(180_000);
    expect(C.KEEPALIVE_TIMEOUT_MS).toBe(10_000);
    expect(C.COOKIE_REFRESH_TIME_MS).toBe(120_000);
    expect(C.HANDSHAKE_INITIATION_RATE_MS).toBe(20);
    expect(C.PADDING_MULTIPLE).toBe(16);
  });
  it('protocol strings', () => {
    expect(C.NOISE_CONSTRUCTION).toBe('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
    expect(C.WG_IDENTIFIER).toBe('WireGuard v1 zx2c4 Jason@zx2c4.com');
    expect(C.WG_LABEL_MAC1).toBe('mac1----');
    expect(C.WG_LABEL_COOKIE).toBe('cookie--');
  });
  it('message types and sizes', () => {
    expect([
      C.MESSAGE_INITIATION_TYPE,
      C.MESSAGE_RESPONSE_TYPE,
      C.MESSAGE_COOKIE_REPLY_TYPE,
      C.MESSAGE_TRANSPORT_TYPE,
    ]).toEqual([1, 2, 3, 4]);
    expect(C.MESSAGE_INITIATION_SIZE).toBe(4 + 4 + 32 + 48 + 28 + 16 + 16);
    expect(C.MESSAGE_INITIATION_SIZE).toBe(148);
    expect(C.MESSAGE_RESPONSE_SIZE).toBe(4 + 4 + 4 + 32 + 16 + 16 + 16);
    expect(C.MESSAGE_RESPONSE_SIZE).toBe(92);
    expect(C.MESSAGE_COOKIE_REPLY_SIZE).toBe(4 + 4 + 24 + 32);
    expect(C.MESSAGE_COOKIE_REPLY_SIZE).toBe(64);
    expect(C.MESSAGE_TRANSPORT_HEADER_SIZE).toBe(16);
    expect(C.MESSAGE_TRANSPORT_SIZE).toBe(32);
    expect(C.MESSAGE_KEEPALIVE_SIZE).toBe(32);
    expect([
      C.MESSAGE_TRANSPORT_OFFSET_RECEIVER,
      C.MESSAGE_TRANSPORT_OFFSET_COUNTER,
      C.MESSAGE_TRANSPORT_OFFSET_CONTENT,
    ]).toEqual([4, 8, 16]);
    expect(C.MAC_SIZE).toBe(16);
    expect(C.TAI64N_SIZE).toBe(12);
    expect(C.MIN_MESSAGE_SIZE).toBe(32);
    expect(C.MAX_MESSAGE_SIZE).toBe(65535);
    expect(C.MAX_CONTENT_SIZE).toBe(65535 - 32);
  });
  it('implementation constants', () => {
    expect(C.UNDER_LOAD_AFTER_TIME_MS).toBe(1000);
    expect(C.MAX_PEERS).toBe(65536);
    expect(C.RATELIMITER_PACKETS_PER_SECOND).toBe(20);
    expect(C.RATELIMITER_PACKETS_BURSTABLE).toBe(5);
    expect(C.QUEUE_STAGED_SIZE).toBe(128);
    expect(C.DEFAULT_MTU).toBe(1420);
    expect(C.UNDER_LOAD_HANDSHAKES).toBeGreaterThan(0);
    expect(C.UNDER_LOAD_WINDOW_MS).toBe(1000);
    expect(C.RATELIMITER_GARBAGE_COLLECT_TIME_MS).toBe(1000);
    expect(C.SEND_HEADROOM).toBe(16); // the transport header
    expect(C.SEND_TAILROOM).toBe(15 + 16); // worst-case padding + the tag
  });
});
