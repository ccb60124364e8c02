/**
 * Curve25519 key types with Tailscale's text forms (`types/key/*` in tailscale/tailscale) and
 * WireGuard's base64 form.
 *
 * | type | text form | used for |
 * |---|---|---|
 * | `MachinePrivate` / `MachinePublic` | `privkey:` / `mkey:` + 64 hex | Noise IK toward control (ts2021) |
 * | `NodePrivate` / `NodePublic` | `privkey:` / `nodekey:` + 64 hex | WireGuard static key and DERP identity |
 * | `DiscoPrivate` / `DiscoPublic` | (never serialized) / `discokey:` + 64 hex | NaCl box for disco |
 * | `ChallengePublic` | `chalpub:` + 64 hex | control's node-key challenge |
 *
 * Hex is printed lowercase and parsed in either case. A zero key is representable (`zero()`,
 * `isZero()`), as control uses it for "none" (`OldNodeKey`). Private keys are generated clamped
 * (RFC 7748 §5), never appear in `toString`, `util.inspect` or `JSON.stringify` output, and are
 * serialized only by the explicit `marshalText()`. Equality is constant-time.
 */
import { constantTimeEqual, isAllZero, parseBase64, parseHex, toBase64, toHex } from '../bytes.js';
import { getCryptoProvider } from '../crypto/index.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ParseError, quoteInput } from '../errors.js';

/** The length of every Curve25519 key in bytes. */
export const KEY_SIZE = 32;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

function checkLength(bytes: Uint8Array, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (bytes.length !== KEY_SIZE)
    throw new RangeError(`${what} must be ${KEY_SIZE} bytes, got ${bytes.length}`);
}

/** How an error may show the input: quoted for public keys, not at all for secrets. */
function shown(text: string, secret: boolean): string {
  return secret ? '(redacted)' : quoteInput(text);
}

/** Parses `<prefix>` + 64 hex; for a secret, errors never echo the input. */
function parsePrefixedHex(text: string, prefix: string, what: string, secret: boolean): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${what} text must be a string`);
  if (!text.startsWith(prefix))
    throw new ParseError(what, `invalid ${what} ${shown(text, secret)}: missing "${prefix}" prefix`);
  const hex = text.slice(prefix.length);
  if (hex.length !== KEY_SIZE * 2) {
    throw new ParseError(
      what,
      `invalid ${what} ${shown(text, secret)}: want ${KEY_SIZE * 2} hex digits, got ${hex.length}`,
    );
  }
  const bytes = parseHex(hex);
  if (bytes === null) throw new ParseError(what, `invalid ${what} ${shown(text, secret)}: not hex`);
  return bytes;
}

function parseKeyBase64(text: string, what: string, secret: boolean): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`${what} text must be a string`);
  const bytes = parseBase64(text);
  if (bytes === null || bytes.length !== KEY_SIZE) {
    throw new ParseError(
      what,
      `invalid ${what} ${shown(text, secret)}: want ${KEY_SIZE} bytes in standard base64`,
    );
  }
  return Uint8Array.from(bytes);
}

/** RFC 7748 §5 clamping, in place. */
export function clampPrivateKey(k: Uint8Array): Uint8Array {
  k[0]! &= 248;
  k[31]! = (k[31]! & 127) | 64;
  return k;
}

/** What every public key type shares. */
abstract class PublicKeyBase {
  readonly #bytes: Uint8Array;

  protected constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The text prefix of this key type, e.g. `nodekey:`. */
  protected abstract get prefix(): string;

  /** A copy of the 32 raw bytes. */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** The raw bytes without a copy: do not modify. */
  get raw(): Uint8Array {
    return this.#bytes;
  }

  /** Whether every byte is zero (Go's `IsZero`: the "no key" value). */
  isZero(): boolean {
    return isAllZero(this.#bytes);
  }

  /** Constant-time equality with a key of the same type. */
  equals(other: this): boolean {
    return other instanceof this.constructor && constantTimeEqual(this.#bytes, other.#bytes);
  }

  /** The 64 lowercase hex digits with no prefix (Go's `UntypedHexString`). */
  untypedHex(): string {
    return toHex(this.#bytes);
  }

  /** WireGuard's base64 form. */
  toBase64(): string {
    return toBase64(this.#bytes);
  }

  /** The prefixed text form, e.g. `nodekey:5f1c…`. */
  toString(): string {
    return this.prefix + toHex(this.#bytes);
  }

  /** The prefixed text form, as `toString()`, so `JSON.stringify` gives Go's form. */
  toJSON(): string {
    return this.toString();
  }

  /** Short form for logs, as Go's `ShortString`: `[5f1c0]`-style first five base64 characters. */
  shortString(): string {
    return `[${this.toBase64().slice(0, 5)}]`;
  }

  /** How `util.inspect` (and `console.log`) shows the key: its class and text form. */
  [INSPECT](): string {
    return `${this.constructor.name}<${this.toString()}>`;
  }
}

/** What every private key type shares. Never printed. */
abstract class PrivateKeyBase {
  readonly #bytes: Uint8Array;

  protected constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** The raw 32 bytes without a copy: do not modify, never log. */
  get raw(): Uint8Array {
    return this.#bytes;
  }

  /** Whether every byte is zero (the "no key" value). */
  isZero(): boolean {
    return isAllZero(this.#bytes);
  }

  /** Constant-time equality with a key of the same type. */
  equals(other: this): boolean {
    return other instanceof this.constructor && constantTimeEqual(this.#bytes, other.#bytes);
  }

  /** Overwrites the key material with zeros. The key is unusable afterwards. */
  destroy(): void {
    this.#bytes.fill(0);
  }

  /** The curve25519 public point of this key, as raw bytes. */
  protected publicBytes(crypto: CryptoProvider = getCryptoProvider()): Uint8Array {
    return crypto.x25519PublicKey(this.#bytes);
  }

  /** `<Class>(redacted)`: a private key is never printed. */
  toString(): string {
    return `${this.constructor.name}(redacted)`;
  }

  /** `<Class>(redacted)`: a private key is never serialized by `JSON.stringify`. */
  toJSON(): string {
    return `${this.constructor.name}(redacted)`;
  }

  /** `<Class>(redacted)`: a private key is never shown by `util.inspect`. */
  [INSPECT](): string {
    return `${this.constructor.name}(redacted)`;
  }
}

function randomPrivate(crypto: CryptoProvider): Uint8Array {
  return clampPrivateKey(crypto.randomBytes(KEY_SIZE));
}

/** A node's public key: its WireGuard static key and DERP address. Text: `nodekey:` + hex. */
export class NodePublic extends PublicKeyBase {
  protected get prefix(): string {
    return 'nodekey:';
  }
  /** A node public key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): NodePublic {
    checkLength(bytes, 'bytes');
    return new NodePublic(Uint8Array.from(bytes));
  }
  /** Parses the text form `nodekey:<64 hex>`. Throws `ParseError`. */
  static parse(text: string): NodePublic {
    return new NodePublic(parsePrefixedHex(text, 'nodekey:', 'node public key', false));
  }
  /** Parses WireGuard's base64 form (44 characters). Throws `ParseError`. */
  static fromBase64(text: string): NodePublic {
    return new NodePublic(parseKeyBase64(text, 'node public key', false));
  }
  /** The all-zero key (Go's zero `key.NodePublic`: no key). */
  static zero(): NodePublic {
    return new NodePublic(new Uint8Array(KEY_SIZE));
  }
}

/** A node's private key. Text (`marshalText`): `privkey:` + hex. */
export class NodePrivate extends PrivateKeyBase {
  /** A new random node private key (clamped for Curve25519). */
  static generate(crypto: CryptoProvider = getCryptoProvider()): NodePrivate {
    return new NodePrivate(randomPrivate(crypto));
  }
  /** A node private key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): NodePrivate {
    checkLength(bytes, 'bytes');
    return new NodePrivate(Uint8Array.from(bytes));
  }
  /** Parses the text form `privkey:<64 hex>` (as state files hold it). Throws `ParseError`. */
  static parse(text: string): NodePrivate {
    return new NodePrivate(parsePrefixedHex(text, 'privkey:', 'node private key', true));
  }
  /** WireGuard's base64 private key form (as `wg genkey` prints). */
  static fromBase64(text: string): NodePrivate {
    return new NodePrivate(parseKeyBase64(text, 'node private key', true));
  }
  /** The all-zero key (no key). */
  static zero(): NodePrivate {
    return new NodePrivate(new Uint8Array(KEY_SIZE));
  }
  /** The public key of this private key. */
  public(crypto?: CryptoProvider): NodePublic {
    return NodePublic.fromBytes(this.publicBytes(crypto));
  }
  /** The secret text form `privkey:` + hex, for state files only. */
  marshalText(): string {
    return `privkey:${toHex(this.raw)}`;
  }
  /** The secret WireGuard base64 form. */
  marshalBase64(): string {
    return toBase64(this.raw);
  }
}

/** A machine's public key, its identity toward control. Text: `mkey:` + hex. */
export class MachinePublic extends PublicKeyBase {
  protected get prefix(): string {
    return 'mkey:';
  }
  /** A machine public key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): MachinePublic {
    checkLength(bytes, 'bytes');
    return new MachinePublic(Uint8Array.from(bytes));
  }
  /** Parses the text form `mkey:<64 hex>`. Throws `ParseError`. */
  static parse(text: string): MachinePublic {
    return new MachinePublic(parsePrefixedHex(text, 'mkey:', 'machine public key', false));
  }
  /** The all-zero key (no key). */
  static zero(): MachinePublic {
    return new MachinePublic(new Uint8Array(KEY_SIZE));
  }
}

/** A machine's private key. Text (`marshalText`): `privkey:` + hex. */
export class MachinePrivate extends PrivateKeyBase {
  /** A new random machine private key (clamped for Curve25519). */
  static generate(crypto: CryptoProvider = getCryptoProvider()): MachinePrivate {
    return new MachinePrivate(randomPrivate(crypto));
  }
  /** A machine private key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): MachinePrivate {
    checkLength(bytes, 'bytes');
    return new MachinePrivate(Uint8Array.from(bytes));
  }
  /** Parses the text form `privkey:<64 hex>` (as state files hold it). Throws `ParseError`. */
  static parse(text: string): MachinePrivate {
    return new MachinePrivate(parsePrefixedHex(text, 'privkey:', 'machine private key', true));
  }
  /** The all-zero key (no key). */
  static zero(): MachinePrivate {
    return new MachinePrivate(new Uint8Array(KEY_SIZE));
  }
  /** The public key of this private key. */
  public(crypto?: CryptoProvider): MachinePublic {
    return MachinePublic.fromBytes(this.publicBytes(crypto));
  }
  /** The secret text form `privkey:` + hex, for state files only. */
  marshalText(): string {
    return `privkey:${toHex(this.raw)}`;
  }
}

/** A disco public key. Text: `discokey:` + hex. */
export class DiscoPublic extends PublicKeyBase {
  protected get prefix(): string {
    return 'discokey:';
  }
  /** A disco public key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): DiscoPublic {
    checkLength(bytes, 'bytes');
    return new DiscoPublic(Uint8Array.from(bytes));
  }
  /** Parses the text form `discokey:<64 hex>`. Throws `ParseError`. */
  static parse(text: string): DiscoPublic {
    return new DiscoPublic(parsePrefixedHex(text, 'discokey:', 'disco public key', false));
  }
  /** The all-zero key (no disco key: the peer does not speak disco). */
  static zero(): DiscoPublic {
    return new DiscoPublic(new Uint8Array(KEY_SIZE));
  }
}

/** A disco private key: fresh at every start, never serialized. */
export class DiscoPrivate extends PrivateKeyBase {
  /** A new random disco private key (clamped for Curve25519). */
  static generate(crypto: CryptoProvider = getCryptoProvider()): DiscoPrivate {
    return new DiscoPrivate(randomPrivate(crypto));
  }
  /** A disco private key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): DiscoPrivate {
    checkLength(bytes, 'bytes');
    return new DiscoPrivate(Uint8Array.from(bytes));
  }
  /** The public key of this private key. */
  public(crypto?: CryptoProvider): DiscoPublic {
    return DiscoPublic.fromBytes(this.publicBytes(crypto));
  }
}

/** Control's challenge public key (`EarlyNoise.NodeKeyChallenge`). Text: `chalpub:` + hex. */
export class ChallengePublic extends PublicKeyBase {
  protected get prefix(): string {
    return 'chalpub:';
  }
  /** A challenge public key from its 32 raw bytes (copied). Throws `RangeError` for another length. */
  static fromBytes(bytes: Uint8Array): ChallengePublic {
    checkLength(bytes, 'bytes');
    return new ChallengePublic(Uint8Array.from(bytes));
  }
  /** Parses the text form `chalpub:<64 hex>`. Throws `ParseError`. */
  static parse(text: string): ChallengePublic {
    return new ChallengePublic(parsePrefixedHex(text, 'chalpub:', 'challenge public key', false));
  }
}
