/**
 * The WireGuard timers (WireGuard paper §6; wireguard-go `device/timers.go`, itself after the
 * kernel's `timers.c`), as deadlines instead of timer objects: each peer has five deadlines in
 * monotonic ms (`Infinity` = not pending). Arming a deadline also lowers the device's `pollAt()`,
 * which is therefore a lower bound (O(1) per packet): a wake-up with nothing due is harmless, and
 * `expireTimers` runs the ones that are due and recomputes the exact minimum. The `timers*` event functions are called from the send
 * and receive paths exactly where wireguard-go calls them.
 *
 * | timer                 | set by                                   | on expiry                       |
 * |-----------------------|------------------------------------------|---------------------------------|
 * | retransmitHandshake   | initiation sent (REKEY_TIMEOUT + jitter)   | resend, or give up after 18     |
 * | sendKeepalive         | data received (KEEPALIVE_TIMEOUT)          | send a keepalive                |
 * | newHandshake          | data sent (KEEPALIVE + REKEY_TIMEOUT + j)  | new handshake: peer went silent |
 * | zeroKeyMaterial       | session derived (3 × REJECT_AFTER_TIME)    | erase all keys                  |
 * | persistentKeepalive   | any authenticated packet (interval)        | send a keepalive                |
 */
import {
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME_MS,
  REKEY_TIMEOUT_JITTER_MAX_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import type { Peer } from './peer.js';

export interface PeerTimers {
  retransmitHandshake: number;
  sendKeepalive: number;
  newHandshake: number;
  zeroKeyMaterial: number;
  persistentKeepalive: number;
  handshakeAttempts: number;
  needAnotherKeepalive: boolean;
  sentLastMinuteHandshake: boolean;
}

const OFF = Number.POSITIVE_INFINITY;

type DeadlineField =
  | 'retransmitHandshake'
  | 'sendKeepalive'
  | 'newHandshake'
  | 'zeroKeyMaterial'
  | 'persistentKeepalive';

/** Sets a deadline and tells the device, whose `pollAt()` is a lower bound of all deadlines. */
function arm(peer: Peer, field: DeadlineField, at: number): void {
  peer.timers[field] = at;
  peer.ctx.noteDeadline(at);
}

export function newPeerTimers(): PeerTimers {
  return {
    retransmitHandshake: OFF,
    sendKeepalive: OFF,
    newHandshake: OFF,
    zeroKeyMaterial: OFF,
    persistentKeepalive: OFF,
    handshakeAttempts: 0,
    needAnotherKeepalive: false,
    sentLastMinuteHandshake: false,
  };
}

function jitter(peer: Peer): number {
  return Math.floor(peer.ctx.random() * REKEY_TIMEOUT_JITTER_MAX_MS);
}

/** After an authenticated data packet is sent. */
export function timersDataSent(peer: Peer, now: number): void {
  if (peer.timers.newHandshake === OFF) {
    arm(peer, 'newHandshake', now + KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + jitter(peer));
  }
}

/** After an authenticated data packet is received. */
export function timersDataReceived(peer: Peer, now: number): void {
  if (peer.timers.sendKeepalive === OFF) arm(peer, 'sendKeepalive', now + KEEPALIVE_TIMEOUT_MS);
  else peer.timers.needAnotherKeepalive = true;
}

/** After any authenticated packet (keepalive, data, handshake) is sent. */
export function timersAnyAuthenticatedPacketSent(peer: Peer): void {
  peer.timers.sendKeepalive = OFF;
}

/** After any authenticated packet is received. */
export function timersAnyAuthenticatedPacketReceived(peer: Peer): void {
  peer.timers.newHandshake = OFF;
}

/** After a handshake initiation is sent. */
export function timersHandshakeInitiated(peer: Peer, now: number): void {
  arm(peer, 'retransmitHandshake', now + REKEY_TIMEOUT_MS + jitter(peer));
}

/** After a response is consumed, or a `next` keypair is confirmed by the first packet using it. */
export function timersHandshakeComplete(peer: Peer, initiator: boolean): void {
  peer.timers.retransmitHandshake = OFF;
  peer.timers.handshakeAttempts = 0;
  peer.timers.sentLastMinuteHandshake = false;
  peer.latestHandshake = peer.ctx.wallNow();
  peer.ctx.out.event({
    type: 'handshake',
    publicKey: peer.publicKeyText,
    endpoint: peer.endpoint,
    initiator,
  });
}

/** After a keypair is derived (response sent or consumed). */
export function timersSessionDerived(peer: Peer, now: number): void {
  arm(peer, 'zeroKeyMaterial', now + REJECT_AFTER_TIME_MS * 3);
}

/** Before any authenticated packet is sent, and after one is received. */
export function timersAnyAuthenticatedPacketTraversal(peer: Peer, now: number): void {
  if (peer.persistentKeepalive > 0) arm(peer, 'persistentKeepalive', now + peer.persistentKeepalive * 1000);
}

/** The earliest pending deadline of `peer`. */
export function peerPollAt(peer: Peer): number {
  const t = peer.timers;
  return Math.min(
    t.retransmitHandshake,
    t.sendKeepalive,
    t.newHandshake,
    t.zeroKeyMaterial,
    t.persistentKeepalive,
  );
}

/** Runs every timer of `peer` that is due at `now` (each is cleared before its handler runs). */
export function expireTimers(peer: Peer, now: number): void {
  const t = peer.timers;
  const log = peer.ctx.logf;
  if (t.retransmitHandshake <= now) {
    t.retransmitHandshake = OFF;
    if (t.handshakeAttempts > MAX_TIMER_HANDSHAKES) {
      log(
        '%s: handshake did not complete after %d attempts, giving up',
        peer.toString(),
        MAX_TIMER_HANDSHAKES + 2,
      );
      t.sendKeepalive = OFF;
      peer.flushStagedPackets();
      if (t.zeroKeyMaterial === OFF) arm(peer, 'zeroKeyMaterial', now + REJECT_AFTER_TIME_MS * 3);
    } else {
      t.handshakeAttempts++;
      log(
        '%s: handshake did not complete after %d s, retrying (try %d)',
        peer.toString(),
        REKEY_TIMEOUT_MS / 1000,
        t.handshakeAttempts + 1,
      );
      peer.sendHandshakeInitiation(true, now);
    }
  }
  if (t.sendKeepalive <= now) {
    t.sendKeepalive = OFF;
    peer.sendKeepalive(now);
    if (t.needAnotherKeepalive) {
      t.needAnotherKeepalive = false;
      arm(peer, 'sendKeepalive', now + KEEPALIVE_TIMEOUT_MS);
    }
  }
  if (t.newHandshake <= now) {
    t.newHandshake = OFF;
    log(
      '%s: retrying handshake because we stopped hearing back after %d s',
      peer.toString(),
      (KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS) / 1000,
    );
    peer.sendHandshakeInitiation(false, now);
  }
  if (t.zeroKeyMaterial <= now) {
    t.zeroKeyMaterial = OFF;
    log(
      '%s: removing all keys, since we have not received a new one in %d s',
      peer.toString(),
      (REJECT_AFTER_TIME_MS * 3) / 1000,
    );
    peer.zeroAndFlushAll();
  }
  if (t.persistentKeepalive <= now) {
    t.persistentKeepalive = OFF;
    if (peer.persistentKeepalive > 0) peer.sendKeepalive(now);
  }
}
