/**
 * The index table (WireGuard paper §5.4.1; wireguard-go `device/indextable.go`): random 32-bit
 * session indices, chosen by us, that the peer echoes as the receiver field so that we find the
 * handshake or keypair a message belongs to without trying every peer.
 */
import type { CryptoProvider } from '@tsnet/core';
import type { Handshake } from './noise/handshake.js';
import type { Keypair } from './noise/keypair.js';

export interface IndexEntry<P> {
  peer: P;
  handshake: Handshake | undefined;
  keypair: Keypair | undefined;
}

export class IndexTable<P> {
  readonly #table = new Map<number, IndexEntry<P>>();
  readonly #crypto: CryptoProvider;
  #pool: Uint32Array = new Uint32Array(0);
  #poolPos = 0;

  constructor(crypto: CryptoProvider) {
    this.#crypto = crypto;
  }

  get size(): number {
    return this.#table.size;
  }

  #random(): number {
    if (this.#poolPos >= this.#pool.length) {
      const b = this.#crypto.randomBytes(64);
      this.#pool = new Uint32Array(b.buffer, b.byteOffset, 16);
      this.#poolPos = 0;
    }
    return this.#pool[this.#poolPos++]!;
  }

  /** A new unused non-zero index for `handshake` of `peer`. */
  newIndexForHandshake(peer: P, handshake: Handshake): number {
    for (;;) {
      const idx = this.#random();
      if (idx === 0 || this.#table.has(idx)) continue;
      this.#table.set(idx, { peer, handshake, keypair: undefined });
      return idx;
    }
  }

  /** Re-points `index` from a handshake to its keypair (wireguard-go `SwapIndexForKeypair`). */
  swapIndexForKeypair(index: number, keypair: Keypair): void {
    const e = this.#table.get(index);
    if (e === undefined) return;
    this.#table.set(index, { peer: e.peer, handshake: undefined, keypair });
  }

  lookup(index: number): IndexEntry<P> | undefined {
    return this.#table.get(index);
  }

  delete(index: number): void {
    if (index !== 0) this.#table.delete(index);
  }

  /** Removes every entry of `peer`. */
  deletePeer(peer: P): void {
    for (const [k, e] of this.#table) if (e.peer === peer) this.#table.delete(k);
  }
}
