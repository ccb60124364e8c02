/**
 * ts2021 wire constants and message layouts (tailscale/tailscale `control/controlbase/messages.go`,
 * `conn.go`, `control/controlhttp/controlhttpcommon`, `control/ts2021/conn.go`).
 *
 * Initiation (client → server, 101 bytes, sent base64 in the `X-Tailscale-Handshake` header):
 * ```
 *  0  2  protocol version, big-endian u16 (= the capability version)
 *  2  1  type 0x01
 *  3  2  payload length, big-endian u16 (= 96)
 *  5 32  client ephemeral public key
 * 37 48  client machine public key, encrypted (32 + 16 tag)
 * 85 16  tag over the empty payload
 * ```
 * Response (server → client, 51 bytes): `02 | 00 30 | ephemeral(32) | tag(16)`.
 * Error (server → client, instead of a response): `03 | BE u16 length | UTF-8 text` (unauthenticated).
 * Record (both ways): `04 | BE u16 ciphertext length | ChaCha20-Poly1305(plaintext)`, at most 4096
 * bytes in all; the nonce is 4 zero bytes ‖ a big-endian u64 counter per direction.
 */

export const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2s';
export const PROTOCOL_VERSION_PREFIX = 'Tailscale Control Protocol v';

export const MSG_TYPE_INITIATION = 1;
export const MSG_TYPE_RESPONSE = 2;
export const MSG_TYPE_ERROR = 3;
export const MSG_TYPE_RECORD = 4;

/** Header of every message but the initiation: type(1) + length(2). */
export const HEADER_LEN = 3;
/** Header of the initiation: version(2) + type(1) + length(2). */
export const INITIATION_HEADER_LEN = 5;
export const INITIATION_LEN = 101;
export const INITIATION_PAYLOAD_LEN = 96;
export const RESPONSE_LEN = 51;
export const RESPONSE_PAYLOAD_LEN = 48;

/** Largest frame on the wire, header included (`maxMessageSize`). */
export const MAX_MESSAGE_SIZE = 4096;
export const MAX_CIPHERTEXT_SIZE = MAX_MESSAGE_SIZE - HEADER_LEN; // 4093
export const MAX_PLAINTEXT_SIZE = MAX_CIPHERTEXT_SIZE - 16; // 4077

/** The early payload magic that may precede HTTP/2 inside the Noise stream (`EarlyPayloadMagic`). */
export const EARLY_PAYLOAD_MAGIC = Uint8Array.of(0xff, 0xff, 0xff, 0x54, 0x53); // "\xff\xff\xffTS"
/** Magic (5) + big-endian u32 length: the same size as an HTTP/2 frame header. */
export const EARLY_PAYLOAD_HEADER_LEN = 9;

/** HTTP upgrade details (`controlhttpcommon`). */
export const UPGRADE_HEADER_VALUE = 'tailscale-control-protocol';
export const HANDSHAKE_HEADER_NAME = 'X-Tailscale-Handshake';
export const UPGRADE_PATH = '/ts2021';

/** The prologue mixed into the handshake: `"Tailscale Control Protocol v" + decimal(version)`. */
export function protocolVersionPrologue(version: number): Uint8Array {
  return new TextEncoder().encode(PROTOCOL_VERSION_PREFIX + String(version));
}
