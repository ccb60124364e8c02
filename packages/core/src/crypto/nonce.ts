/**
 * The 96-bit ChaCha20-Poly1305 nonces built from a 64-bit counter:
 * - WireGuard (whitepaper §5.4.6, wireguard-go `device/send.go`): 4 zero bytes ‖ counter as
 *   little-endian u64.
 * - Tailscale's control protocol (tailscale `control/controlbase/conn.go`): 4 zero bytes ‖ counter
 *   as big-endian u64.
 *
 * The counter is a JS number (no bigint on the packet path), so it is limited to 2^53 - 1; both
 * protocols rekey long before (WireGuard's REJECT_AFTER_MESSAGES is 2^64 - 2^13 - 1, but a session
 * lasts at most REJECT_AFTER_TIME = 180 s).
 */

import { checkSize } from './check.js';
import { CHACHA20POLY1305_NONCE_SIZE } from './provider.js';

const TWO_POW_32 = 0x1_0000_0000;

function checkCounter(counter: number): void {
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) {
    throw new RangeError(`counter must be an integer from 0 to 2^53 - 1, got ${String(counter)}`);
  }
}

/**
 * WireGuard's nonce: 4 zero bytes ‖ `counter` as a little-endian 64-bit integer. Writes into `out`
 * (12 bytes) when given, so the packet path allocates nothing.
 *
 * @example
 * ```ts
 * import { nonceLE64 } from '@tsnet/core';
 * nonceLE64(1); // 00000000 01000000 00000000
 * ```
 */
export function nonceLE64(
  counter: number,
  out: Uint8Array = new Uint8Array(CHACHA20POLY1305_NONCE_SIZE),
): Uint8Array {
  checkCounter(counter);
  checkSize('out', out, CHACHA20POLY1305_NONCE_SIZE);
  const lo = counter >>> 0;
  const hi = Math.floor(counter / TWO_POW_32);
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out[4] = lo & 0xff;
  out[5] = (lo >>> 8) & 0xff;
  out[6] = (lo >>> 16) & 0xff;
  out[7] = lo >>> 24;
  out[8] = hi & 0xff;
  out[9] = (hi >>> 8) & 0xff;
  out[10] = (hi >>> 16) & 0xff;
  out[11] = hi >>> 24;
  return out;
}

/**
 * The control protocol's nonce: 4 zero bytes ‖ `counter` as a big-endian 64-bit integer. Writes
 * into `out` (12 bytes) when given.
 *
 * @example
 * ```ts
 * import { nonceBE64 } from '@tsnet/core';
 * nonceBE64(1); // 00000000 00000000 00000001
 * ```
 */
export function nonceBE64(
  counter: number,
  out: Uint8Array = new Uint8Array(CHACHA20POLY1305_NONCE_SIZE),
): Uint8Array {
  checkCounter(counter);
  checkSize('out', out, CHACHA20POLY1305_NONCE_SIZE);
  const lo = counter >>> 0;
  const hi = Math.floor(counter / TWO_POW_32);
  out[0] = 0;
  out[1] = 0;
  out[2] = 0;
  out[3] = 0;
  out[4] = hi >>> 24;
  out[5] = (hi >>> 16) & 0xff;
  out[6] = (hi >>> 8) & 0xff;
  out[7] = hi & 0xff;
  out[8] = lo >>> 24;
  out[9] = (lo >>> 16) & 0xff;
  out[10] = (lo >>> 8) & 0xff;
  out[11] = lo & 0xff;
  return out;
}
