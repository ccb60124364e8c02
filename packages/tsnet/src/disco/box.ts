/** A disco packet `DiscoBox.open` authenticated. */
export interface OpenedDisco {
  /** The sender's disco public key (from the packet's header, proven by the box). */
  sender: DiscoPublic;
  /** The message inside. */
  msg: DiscoMessage;
}

/**
 * `DiscoBox`: our disco private key and a bounded cache of the precomputed shared keys with peers'
 * disco keys (Go `DiscoShared`), to seal and open disco packets.
 */
import {
  boxOpenShared,
  boxSealShared,
  type CryptoProvider,
  type DiscoPrivate,
  DiscoPublic,
  getCryptoProvider,
} from '@tsnet/core';
import {
  DISCO_HEADER_LEN,
  type DiscoMessage,
  discoPacket,
  discoSender,
  emitMessage,
  looksLikeDisco,
  parseMessage,
} from './disco.js';

const MAX_SHARED = 4096;

export class DiscoBox {
  readonly #priv: DiscoPrivate;
  readonly #pub: DiscoPublic;
  readonly #crypto: CryptoProvider;
  readonly #shared = new Map<string, Uint8Array>();

  constructor(priv: DiscoPrivate, crypto: CryptoProvider = getCryptoProvider()) {
    this.#priv = priv;
    this.#crypto = crypto;
    this.#pub = priv.public(crypto);
  }

  /** Our disco public key: the sender key in every packet we seal, sent to control as `DiscoKey`. */
  get publicKey(): DiscoPublic {
    return this.#pub;
  }

  #sharedWith(peer: Uint8Array): Uint8Array {
    const k = Buffer.from(peer.buffer, peer.byteOffset, peer.byteLength).toString('hex');
    let s = this.#shared.get(k);
    if (s === undefined) {
      if (this.#shared.size >= MAX_SHARED) {
        const first = this.#shared.keys().next().value;
        if (first !== undefined) {
          this.#shared.get(first)?.fill(0);
          this.#shared.delete(first);
        }
      }
      s = this.#crypto.boxBeforeNm(peer, this.#priv.raw);
      this.#shared.set(k, s);
    }
    return s;
  }

  /** A complete disco packet with `msg` from us to `peer`. */
  seal(peer: DiscoPublic, msg: DiscoMessage): Uint8Array {
    const sealed = boxSealShared(this.#crypto, this.#sharedWith(peer.raw), emitMessage(msg));
    return discoPacket(this.#pub.raw, sealed);
  }

  /**
   * Opens a packet: the sender and the message, or null if it is not disco, does not authenticate
   * (wrong or old keys) or carries a message we do not know.
   */
  open(pkt: Uint8Array): OpenedDisco | null {
    if (!looksLikeDisco(pkt)) return null;
    const senderRaw = discoSender(pkt);
    let plain: Uint8Array | null;
    try {
      plain = boxOpenShared(this.#crypto, this.#sharedWith(senderRaw), pkt.subarray(DISCO_HEADER_LEN));
    } catch {
      return null;
    }
    if (plain === null) return null;
    const msg = parseMessage(plain);
    if (msg === null) return null;
    return { sender: DiscoPublic.fromBytes(senderRaw.slice()), msg };
  }

  /** Forgets the shared keys (on close). */
  destroy(): void {
    for (const s of this.#shared.values()) s.fill(0);
    this.#shared.clear();
  }
}
