/**
 * Transport keypairs and their rotation (WireGuard paper §5.4.5, §6.1; wireguard-go
 * `device/keypair.go` and `BeginSymmetricSession`/`ReceivedWithKeypair` in `noise-protocol.go`).
 *
 * Each peer holds up to three keypairs:
 * - `current`: used to send;
 * - `previous`: the one before, still accepted on receive so packets in flight are not lost;
 * - `next`: a responder's new keypair, not used to send until the initiator proves it has it by
 *   sending with it (key confirmation), which promotes it to `current`.
 */
import { ReplayFilter } from '../replay.js';

/**
 * One session's transport keys and receive state (wireguard-go `Keypair`): made from `SessionKeys`,
 * used for at most REJECT_AFTER_TIME. Takes ownership of the key arrays (`zero()` overwrites them).
 */
export class Keypair {
  /** ChaCha20-Poly1305 key for sending (T_send, 32 bytes). */
  readonly sendKey: Uint8Array;
  /** ChaCha20-Poly1305 key for receiving (T_recv, 32 bytes). */
  readonly recvKey: Uint8Array;
  /** The next counter to send with; a safe integer (see constants.ts). */
  sendNonce = 0;
  /** The sliding window of counters received with this keypair. */
  readonly replayFilter = new ReplayFilter();
  /** True if we initiated the handshake; only then does age (REKEY_AFTER_TIME) trigger a rekey. */
  readonly isInitiator: boolean;
  /** Monotonic ms when derived. */
  readonly created: number;
  /** Our index: incoming transport messages carry it as receiver and find this keypair by it. */
  readonly localIndex: number;
  /** The peer's index, written as receiver in the transport messages we send. */
  readonly remoteIndex: number;

  constructor(
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    isInitiator: boolean,
    created: number,
    localIndex: number,
    remoteIndex: number,
  ) {
    this.sendKey = sendKey;
    this.recvKey = recvKey;
    this.isInitiator = isInitiator;
    this.created = created;
    this.localIndex = localIndex;
    this.remoteIndex = remoteIndex;
  }

  /** Overwrites the keys with zeros. */
  zero(): void {
    this.sendKey.fill(0);
    this.recvKey.fill(0);
  }
}

/** A peer's keypair slots and their rotation (wireguard-go `Keypairs`); see the file header. */
export class Keypairs {
  /** The keypair we send with (and receive with). */
  current: Keypair | undefined;
  /** The keypair before `current`, still accepted on receive. */
  previous: Keypair | undefined;
  /** As responder, the new keypair awaiting confirmation by the initiator's first transport message. */
  next: Keypair | undefined;

  /**
   * Installs a newly derived keypair, returning the keypairs that fell out (to be removed from the
   * index table and zeroed). Rules of wireguard-go `BeginSymmetricSession`:
   * - initiator: the new keypair becomes `current` at once (the response confirmed the peer has it);
   *   if an unconfirmed `next` existed it becomes `previous` and the old `current` is dropped,
   *   otherwise the old `current` becomes `previous`.
   * - responder: the new keypair waits in `next`; `previous` is dropped (and any older `next`).
   */
  install(kp: Keypair): Keypair[] {
    const dropped: Keypair[] = [];
    const { previous, next, current } = this;
    if (kp.isInitiator) {
      if (next !== undefined) {
        this.next = undefined;
        this.previous = next;
        if (current !== undefined) dropped.push(current);
      } else {
        this.previous = current;
      }
      if (previous !== undefined) dropped.push(previous);
      this.current = kp;
    } else {
      this.next = kp;
      if (next !== undefined) dropped.push(next);
      this.previous = undefined;
      if (previous !== undefined) dropped.push(previous);
    }
    return dropped;
  }

  /**
   * Called when a packet authenticated with `kp` arrives. If `kp` is `next`, it is confirmed and
   * rotated in (`previous` ← `current` ← `next`); returns the dropped keypair (if any) and true.
   */
  receivedWith(kp: Keypair): {
    /** True if `kp` was `next` and is now `current`. */
    confirmed: boolean;
    /** The keypair rotated out of `previous`, to remove from the index table and zero. */
    dropped: Keypair | undefined;
  } {
    if (this.next !== kp) return { confirmed: false, dropped: undefined };
    const old = this.previous;
    this.previous = this.current;
    this.current = kp;
    this.next = undefined;
    return { confirmed: true, dropped: old };
  }

  /** Removes all keypairs, returning them. */
  clear(): Keypair[] {
    const all = [this.previous, this.current, this.next].filter((k): k is Keypair => k !== undefined);
    this.previous = this.current = this.next = undefined;
    return all;
  }
}
