/**
 * TEST ONLY: the responder (control server) side of the ts2021 Noise IK handshake, written from
 * the Noise spec and tailscale `control/controlbase/handshake.go` `Server`, independently of the
 * initiator in src/. Used by the in-process fake control server.
 */
import { type CryptoProvider, clampPrivateKey, getCryptoProvider, isAllZero, kdf2, utf8 } from '@tsnet/core';

const ZERO_NONCE = new Uint8Array(12);

export interface Responded {
  response: Uint8Array;
  /** Server → client key (k2) and client → server key (k1). */
  keys: { tx: Uint8Array; rx: Uint8Array; handshakeHash: Uint8Array; version: number };
  machinePublic: Uint8Array;
  version: number;
}

/** Processes an initiation; returns the response or an error string (sent as a type-3 message). */
export function respond(
  controlPrivate: Uint8Array,
  init: Uint8Array,
  crypto: CryptoProvider = getCryptoProvider(),
  ephemeralPrivate?: Uint8Array,
): Responded | string {
  if (init.length !== 101) return 'wrong handshake initiation size';
  if (init[2] !== 1) return 'unexpected handshake message type';
  if (((init[3]! << 8) | init[4]!) !== 96) return 'wrong handshake initiation length';
  const version = (init[0]! << 8) | init[1]!;
  let h = crypto.blake2s(utf8('Noise_IK_25519_ChaChaPoly_BLAKE2s'));
  let ck = h;
  const mixHash = (d: Uint8Array) => {
    h = crypto.blake2s([h, d]);
  };
  const mixDH = (priv: Uint8Array, pub: Uint8Array): Uint8Array | null => {
    const dh = crypto.x25519(priv, pub);
    if (isAllZero(dh)) return null;
    const [c, k] = kdf2(crypto, ck, dh);
    ck = c;
    return k;
  };
  mixHash(utf8(`Tailscale Control Protocol v${version}`));
  mixHash(crypto.x25519PublicKey(controlPrivate));
  const re = init.subarray(5, 37);
  mixHash(re);
  const kEs = mixDH(controlPrivate, re);
  if (kEs === null) return 'bad ephemeral';
  const encMachine = init.subarray(37, 85);
  const machinePublic = new Uint8Array(32);
  if (!crypto.chacha20poly1305Open(kEs, ZERO_NONCE, encMachine, h, machinePublic))
    return 'decrypting machine key';
  mixHash(encMachine);
  const kSs = mixDH(controlPrivate, machinePublic);
  if (kSs === null) return 'bad machine key';
  const tag = init.subarray(85, 101);
  if (!crypto.chacha20poly1305Open(kSs, ZERO_NONCE, tag, h, new Uint8Array(0)))
    return 'decrypting initiation tag';
  mixHash(tag);

  const ePriv = ephemeralPrivate ?? clampPrivateKey(crypto.randomBytes(32));
  const ePub = crypto.x25519PublicKey(ePriv);
  const resp = new Uint8Array(51);
  resp[0] = 2;
  resp[1] = 0;
  resp[2] = 48;
  resp.set(ePub, 3);
  mixHash(ePub);
  if (mixDH(ePriv, re) === null) return 'ee';
  const kSe = mixDH(ePriv, machinePublic);
  if (kSe === null) return 'se';
  const respTag = new Uint8Array(16);
  crypto.chacha20poly1305Seal(kSe, ZERO_NONCE, new Uint8Array(0), h, respTag);
  resp.set(respTag, 35);
  mixHash(respTag);
  const [k1, k2] = kdf2(crypto, ck, new Uint8Array(0));
  return { response: resp, keys: { tx: k2, rx: k1, handshakeHash: h, version }, machinePublic, version };
}
