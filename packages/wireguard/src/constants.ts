/**
 * WireGuard constants: the protocol's specification constants (the WireGuard paper §6, wireguard-go
 * `device/constants.go`) kept apart from this implementation's own choices.
 *
 * Times are in milliseconds (suffix `_MS`); sizes in bytes (suffix `_SIZE`). Names follow
 * wireguard-go's, in SCREAMING_SNAKE, so a reader can compare line by line.
 *
 * Message counters are 64-bit on the wire. This package keeps them as JavaScript numbers, which are
 * exact up to 2^53: a session that sent 2^53 packets at 10 million packets a second would last 28
 * years, far beyond REJECT_AFTER_TIME. So the 64-bit limits below are clamped to
 * `Number.MAX_SAFE_INTEGER` (documented on each) and every counter on the packet path is a number.
 */

// ---------------------------------------------------------------------------------------------
// Specification constants (WireGuard paper §6.1, wireguard-go device/constants.go)
// ---------------------------------------------------------------------------------------------

/**
 * Rekey after this many messages sent with one keypair: 2^60 in the spec. As a JavaScript number
 * 2^60 is exact (a power of two), but counters above 2^53 can't be incremented exactly, so in
 * practice REJECT_AFTER_MESSAGES (clamped) is reached first; see the file header.
 */
export const REKEY_AFTER_MESSAGES = 2 ** 60;
/**
 * Reject after this many messages: 2^64 − 2^13 − 1 in the spec. Clamped here to 2^53 − 1
 * (`Number.MAX_SAFE_INTEGER`), the largest counter a number holds exactly.
 */
export const REJECT_AFTER_MESSAGES = Number.MAX_SAFE_INTEGER;
/** The spec's value of REJECT_AFTER_MESSAGES, 2^64 − 2^13 − 1, as a bigint (for documentation and tests only). */
export const REJECT_AFTER_MESSAGES_SPEC = (1n << 64n) - (1n << 13n) - 1n;
/** The initiator of the current session starts a new handshake after this long: 120 s. */
export const REKEY_AFTER_TIME_MS = 120_000;
/** Give up retrying a handshake after this long: 90 s. */
export const REKEY_ATTEMPT_TIME_MS = 90_000;
/** Retransmit a handshake initiation after this long without a response: 5 s (plus jitter). */
export const REKEY_TIMEOUT_MS = 5_000;
/** Maximum number of handshake retransmissions: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT = 18. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;
/** Jitter added to REKEY_TIMEOUT: uniformly 0..333 ms (wireguard-go `fastrandn(334)`). */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
/** A keypair is never used (sending or receiving) after this long: 180 s. */
export const REJECT_AFTER_TIME_MS = 180_000;
/** Send a keepalive if data was received and nothing sent for this long: 10 s. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** A cookie (and the cookie secret) is valid this long: 120 s. */
export const COOKIE_REFRESH_TIME_MS = 120_000;
/** At most one initiation per peer is consumed per this interval: 1/50 s = 20 ms. */
export const HANDSHAKE_INITIATION_RATE_MS = 20;
/** Transport plaintext is zero-padded to a multiple of this many bytes. */
export const PADDING_MULTIPLE = 16;

// ---------------------------------------------------------------------------------------------
// Noise protocol strings (WireGuard paper §5.4, wireguard-go device/noise-protocol.go)
// ---------------------------------------------------------------------------------------------

/** The Noise protocol name; BLAKE2s of it is the initial chaining key. */
export const NOISE_CONSTRUCTION = 'Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s';
/** The WireGuard identifier, mixed into the initial hash (the Noise prologue). */
export const WG_IDENTIFIER = 'WireGuard v1 zx2c4 Jason@zx2c4.com';
/** Label for the mac1 key: BLAKE2s(LABEL_MAC1 ‖ receiver's static public key). */
export const WG_LABEL_MAC1 = 'mac1----';
/** Label for the cookie encryption key: BLAKE2s(LABEL_COOKIE ‖ receiver's static public key). */
export const WG_LABEL_COOKIE = 'cookie--';

// ---------------------------------------------------------------------------------------------
// Message types and sizes (WireGuard paper §5.4.2–§5.4.7)
// ---------------------------------------------------------------------------------------------

/** Type of a handshake initiation (§5.4.2), the first of the 4 bytes `type ‖ reserved zero(3)`. */
export const MESSAGE_INITIATION_TYPE = 1;
/** Type of a handshake response (§5.4.3). */
export const MESSAGE_RESPONSE_TYPE = 2;
/** Type of a cookie reply (§5.4.7): the answer, under load, to a handshake message without a valid mac2. */
export const MESSAGE_COOKIE_REPLY_TYPE = 3;
/** Type of a transport data message (§5.4.6); an empty one is a keepalive. */
export const MESSAGE_TRANSPORT_TYPE = 4;

/** Handshake initiation: 4 + 4 + 32 + (32+16) + (12+16) + 16 + 16 = 148 bytes. */
export const MESSAGE_INITIATION_SIZE = 148;
/** Handshake response: 4 + 4 + 4 + 32 + 16 + 16 + 16 = 92 bytes. */
export const MESSAGE_RESPONSE_SIZE = 92;
/** Cookie reply: 4 + 4 + 24 + (16+16) = 64 bytes. */
export const MESSAGE_COOKIE_REPLY_SIZE = 64;
/** Transport header: type(4) ‖ receiver(4) ‖ counter(8) = 16 bytes. */
export const MESSAGE_TRANSPORT_HEADER_SIZE = 16;
/** Poly1305 tag size. */
export const MESSAGE_TAG_SIZE = 16;
/** An empty transport message (header + tag): 32 bytes. */
export const MESSAGE_TRANSPORT_SIZE = MESSAGE_TRANSPORT_HEADER_SIZE + MESSAGE_TAG_SIZE;
/** A keepalive is an empty transport message: 32 bytes. */
export const MESSAGE_KEEPALIVE_SIZE = MESSAGE_TRANSPORT_SIZE;
/** Offset of a transport message's receiver index (u32 little-endian). */
export const MESSAGE_TRANSPORT_OFFSET_RECEIVER = 4;
/** Offset of a transport message's counter (u64 little-endian, the AEAD nonce). */
export const MESSAGE_TRANSPORT_OFFSET_COUNTER = 8;
/** Offset of a transport message's encrypted content (ciphertext ‖ tag). */
export const MESSAGE_TRANSPORT_OFFSET_CONTENT = 16;
/** Size of mac1 and mac2 (keyed BLAKE2s-128). */
export const MAC_SIZE = 16;
/** TAI64N timestamp size: 8-byte seconds + 4-byte nanoseconds, big-endian. */
export const TAI64N_SIZE = 12;
/** Curve25519 key size. */
export const NOISE_PUBLIC_KEY_SIZE = 32;
/** Smallest datagram worth looking at: a keepalive. */
export const MIN_MESSAGE_SIZE = MESSAGE_KEEPALIVE_SIZE;
/** Largest UDP payload (wireguard-go MaxSegmentSize). */
export const MAX_MESSAGE_SIZE = 65535;
/** Largest IP packet carried in one transport message. */
export const MAX_CONTENT_SIZE = MAX_MESSAGE_SIZE - MESSAGE_TRANSPORT_SIZE;

// ---------------------------------------------------------------------------------------------
// Implementation constants (wireguard-go device/constants.go, ratelimiter/ratelimiter.go)
// ---------------------------------------------------------------------------------------------

/** How long the device stays "under load" after it was detected: 1 s. */
export const UNDER_LOAD_AFTER_TIME_MS = 1_000;
/**
 * Handshake messages processed within one UNDER_LOAD_WINDOW_MS above which the device is under load.
 * wireguard-go uses its handshake queue depth (QueueHandshakeSize / 8 = 128); a sans-IO core has
 * no queue, so this counts handshake messages per window instead.
 */
export const UNDER_LOAD_HANDSHAKES = 128;
/** The window over which UNDER_LOAD_HANDSHAKES is counted: 1 s. */
export const UNDER_LOAD_WINDOW_MS = 1_000;
/** Maximum number of configured peers. */
export const MAX_PEERS = 1 << 16;
/** Handshake rate limiter under load: packets per second per source IP. */
export const RATELIMITER_PACKETS_PER_SECOND = 20;
/** Handshake rate limiter under load: burst size per source IP. */
export const RATELIMITER_PACKETS_BURSTABLE = 5;
/** Rate-limiter entries idle longer than this are forgotten: 1 s. */
export const RATELIMITER_GARBAGE_COLLECT_TIME_MS = 1_000;
/** Outbound packets staged per peer while waiting for a handshake (wireguard-go QueueStagedSize). */
export const QUEUE_STAGED_SIZE = 128;
/** Default MTU of the tunnel (wireguard-go DefaultMTU). */
export const DEFAULT_MTU = 1420;

/**
 * Bytes a caller of `Device.sendWithHeadroom` leaves free before the IP packet (the transport
 * header is written there) …
 */
export const SEND_HEADROOM = MESSAGE_TRANSPORT_HEADER_SIZE;
/** … and after it (up to 15 bytes of padding and the 16-byte tag), so the packet is sealed in place. */
export const SEND_TAILROOM = PADDING_MULTIPLE - 1 + MESSAGE_TAG_SIZE;
