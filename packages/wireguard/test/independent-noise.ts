/**
 * An independent WireGuard initiator for vector tests, written directly from the WireGuard paper
 * §5.4 with node:crypto (OpenSSL) primitives only — no @tsnet/core, no code from src/. Tests compare
 * its bytes with what our implementation produces and let the two complete handshakes and exchange
 * transport messages, so a mistake in either shows up as a mismatch.
 */
import * as nc from 'node:crypto';

const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

export const hash = (...parts: Uint8Array[]): Buffer => {
  const h = nc.createHash('blake2s256');
  for (const p of parts) h.update(p);
  return h.digest();
};
export const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const h = nc.createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
};
/** HKDF as the paper defines Kdf_n: τ0 = HMAC(C, input); τi = HMAC(τ0, τ(i−1) ‖ i). */
export const kdf = (n: number, key: Uint8Array, input: Uint8Array): Buffer[] => {
  const t0 = hmac(key, input);
  const out: Buffer[] = [];
  let prev: Buffer = Buffer.alloc(0);
  for (let i = 1; i <= n; i++) {
    prev = hmac(t0, prev, Buffer.from([i]));
    out.push(prev);
  }
  return out;
};
export const pub = (priv: Uint8Array): Buffer =>
  nc
    .createPublicKey(
      nc.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' }),
    )
    .export({ format: 'der', type: 'spki' })
    .subarray(12);
export const dh = (priv: Uint8Array, p: Uint8Array): Buffer =>
  nc.diffieHellman({
    privateKey: nc.createPrivateKey({
      key: Buffer.concat([PKCS8_X25519, priv]),
      format: 'der',
      type: 'pkcs8',
    }),
    publicKey: nc.createPublicKey({ key: Buffer.concat([SPKI_X25519, p]), format: 'der', type: 'spki' }),
  });
export const aead = (key: Uint8Array, counter: number, plain: Uint8Array, ad: Uint8Array): Buffer => {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(counter >>> 0, 4);
  nonce.writeUInt32LE(Math.floor(counter / 2 ** 32), 8);
  const c = nc.createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(ad, { plaintextLength: plain.length });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
};
export const aeadOpen = (
  key: Uint8Array,
  counter: number,
  sealed: Uint8Array,
  ad: Uint8Array,
): Buffer | null => {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(counter >>> 0, 4);
  nonce.writeUInt32LE(Math.floor(counter / 2 ** 32), 8);
  const d = nc.createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(ad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  } catch {
    return null; // authentication failure is the expected outcome being tested
  }
};

// ---- RFC 7693 BLAKE2s, keyed, for mac1/mac2 (OpenSSL's createHash does not take a key) ----
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];
const rotr = (x: number, n: number) => ((x >>> n) | (x << (32 - n))) >>> 0;
export function blake2sKeyed(key: Uint8Array, data: Uint8Array, outLen: number): Buffer {
  const h = IV.slice();
  h[0] = (h[0]! ^ 0x01010000 ^ (key.length << 8) ^ outLen) >>> 0;
  const blocks: Uint8Array[] = [];
  const input =
    key.length > 0
      ? Buffer.concat([Buffer.concat([key, Buffer.alloc(64 - key.length)]), data])
      : Buffer.from(data);
  for (let i = 0; i < input.length; i += 64) blocks.push(input.subarray(i, i + 64));
  if (blocks.length === 0) blocks.push(new Uint8Array(0));
  let t = 0;
  blocks.forEach((blk, bi) => {
    const last = bi === blocks.length - 1;
    const b = Buffer.alloc(64);
    b.set(blk);
    t += blk.length;
    const m = Array.from({ length: 16 }, (_, i) => b.readUInt32LE(4 * i));
    const v = [...h, ...IV];
    v[12] = (v[12]! ^ t) >>> 0;
    v[13] = (v[13]! ^ Math.floor(t / 2 ** 32)) >>> 0;
    if (last) v[14] = ~v[14]! >>> 0;
    const G = (a: number, bb: number, c: number, d: number, x: number, y: number) => {
      v[a] = (v[a]! + v[bb]! + x) >>> 0;
      v[d] = rotr(v[d]! ^ v[a]!, 16);
      v[c] = (v[c]! + v[d]!) >>> 0;
      v[bb] = rotr(v[bb]! ^ v[c]!, 12);
      v[a] = (v[a]! + v[bb]! + y) >>> 0;
      v[d] = rotr(v[d]! ^ v[a]!, 8);
      v[c] = (v[c]! + v[d]!) >>> 0;
      v[bb] = rotr(v[bb]! ^ v[c]!, 7);
    };
    for (let r = 0; r < 10; r++) {
      const s = SIGMA[r]!;
      G(0, 4, 8, 12, m[s[0]!]!, m[s[1]!]!);
      G(1, 5, 9, 13, m[s[2]!]!, m[s[3]!]!);
      G(2, 6, 10, 14, m[s[4]!]!, m[s[5]!]!);
      G(3, 7, 11, 15, m[s[6]!]!, m[s[7]!]!);
      G(0, 5, 10, 15, m[s[8]!]!, m[s[9]!]!);
      G(1, 6, 11, 12, m[s[10]!]!, m[s[11]!]!);
      G(2, 7, 8, 13, m[s[12]!]!, m[s[13]!]!);
      G(3, 4, 9, 14, m[s[14]!]!, m[s[15]!]!);
    }
    for (let i = 0; i < 8; i++) h[i] = (h[i]! ^ v[i]! ^ v[i + 8]!) >>> 0;
  });
  const out = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) out.writeUInt32LE(h[i]!, 4 * i);
  return out.subarray(0, outLen);
}

export const CONSTRUCTION = Buffer.from('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
export const IDENTIFIER = Buffer.from('WireGuard v1 zx2c4 Jason@zx2c4.com');

/** The initiator's side of one handshake, step by step as in the paper. */
export class IndependentInitiator {
  ci: Buffer;
  hi: Buffer;
  readonly sPriv: Uint8Array;
  readonly sPub: Buffer;
  readonly rPub: Uint8Array;
  readonly ePriv: Uint8Array;
  readonly psk: Uint8Array;
  sendKey: Buffer | undefined;
  recvKey: Buffer | undefined;
  remoteIndex = 0;

  constructor(sPriv: Uint8Array, rPub: Uint8Array, ePriv: Uint8Array, psk: Uint8Array = new Uint8Array(32)) {
    this.sPriv = sPriv;
    this.sPub = pub(sPriv);
    this.rPub = rPub;
    this.ePriv = ePriv;
    this.psk = psk;
    this.ci = hash(CONSTRUCTION);
    this.hi = hash(this.ci, IDENTIFIER);
  }

  /** Message 1 with the given sender index and TAI64N bytes. */
  initiation(sender: number, timestamp: Uint8Array): Buffer {
    const msg = Buffer.alloc(148);
    msg.writeUInt32LE(1, 0);
    msg.writeUInt32LE(sender, 4);
    this.hi = hash(this.hi, this.rPub);
    const ePub = pub(this.ePriv);
    ePub.copy(msg, 8);
    [this.ci] = kdf(1, this.ci, ePub) as [Buffer];
    this.hi = hash(this.hi, ePub);
    let k: Buffer;
    [this.ci, k] = kdf(2, this.ci, dh(this.ePriv, this.rPub)) as [Buffer, Buffer];
    const stat = aead(k, 0, this.sPub, this.hi);
    stat.copy(msg, 40);
    this.hi = hash(this.hi, stat);
    [this.ci, k] = kdf(2, this.ci, dh(this.sPriv, this.rPub)) as [Buffer, Buffer];
    const ts = aead(k, 0, timestamp, this.hi);
    ts.copy(msg, 88);
    this.hi = hash(this.hi, ts);
    const mac1Key = hash(Buffer.from('mac1----'), this.rPub);
    blake2sKeyed(mac1Key, msg.subarray(0, 116), 16).copy(msg, 116);
    return msg;
  }

  /** Consumes message 2; true if it authenticates (then the transport keys are set). */
  response(msg: Uint8Array): boolean {
    const mac1Key = hash(Buffer.from('mac1----'), this.sPub);
    if (!blake2sKeyed(mac1Key, msg.subarray(0, 60), 16).equals(Buffer.from(msg.subarray(60, 76))))
      return false;
    const ePubR = msg.subarray(12, 44);
    let cr = kdf(1, this.ci, ePubR)[0]!;
    let hr = hash(this.hi, ePubR);
    cr = kdf(1, cr, dh(this.ePriv, ePubR))[0]!;
    cr = kdf(1, cr, dh(this.sPriv, ePubR))[0]!;
    const [c3, tau, k] = kdf(3, cr, this.psk) as [Buffer, Buffer, Buffer];
    hr = hash(hr, tau);
    if (aeadOpen(k, 0, msg.subarray(44, 60), hr) === null) return false;
    [this.sendKey, this.recvKey] = kdf(2, c3, Buffer.alloc(0)) as [Buffer, Buffer];
    this.remoteIndex = Buffer.from(msg).readUInt32LE(4);
    return true;
  }

  /** A transport message to the responder. */
  transport(counter: number, plain: Uint8Array): Buffer {
    const padded = Buffer.concat([plain, Buffer.alloc((16 - (plain.length % 16)) % 16)]);
    const head = Buffer.alloc(16);
    head.writeUInt32LE(4, 0);
    head.writeUInt32LE(this.remoteIndex, 4);
    head.writeUInt32LE(counter >>> 0, 8);
    return Buffer.concat([head, aead(this.sendKey!, counter, padded, Buffer.alloc(0))]);
  }

  /** Opens a transport message from the responder. */
  open(msg: Uint8Array): Buffer | null {
    const b = Buffer.from(msg);
    return aeadOpen(
      this.recvKey!,
      b.readUInt32LE(8) + b.readUInt32LE(12) * 2 ** 32,
      b.subarray(16),
      Buffer.alloc(0),
    );
  }
}
