/**
 * The receive path (wireguard-go `device/receive.go`), in processing order:
 *
 * 1. `receiveDatagram`: size and type checks; anything malformed is dropped and counted.
 * 2. Handshake messages (`receiveHandshake`): mac1 always; under load, mac2 (else a cookie reply)
 *    and a per-source rate limit; then the Noise Consume function; then timers and roaming.
 *    Cookie replies are matched to our pending handshake by index.
 * 3. Transport messages (`receiveTransport`): keypair by receiver index, age check, decryption in
 *    place, replay window, key confirmation, cryptokey routing of the inner source address, then
 *    delivery to the TUN side.
 *
 * Every failure is a quiet, counted drop that changes no state: the replay window is updated only
 * after a packet authenticates, handshakes only after they are fully verified.
 */
import { utf8 } from '@tsnet/core';
import {
  HANDSHAKE_INITIATION_RATE_MS,
  KEEPALIVE_TIMEOUT_MS,
  MESSAGE_COOKIE_REPLY_SIZE,
  MESSAGE_COOKIE_REPLY_TYPE,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_TRANSPORT_OFFSET_CONTENT,
  MESSAGE_TRANSPORT_TYPE,
  MIN_MESSAGE_SIZE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import type { DeviceContext, Endpoint } from './context.js';
import { readU32LE, readU64LE } from './messages.js';
import { commitInitiation, consumeMessageInitiation, consumeMessageResponse } from './noise/handshake.js';
import type { Peer } from './peer.js';
import {
  timersAnyAuthenticatedPacketReceived,
  timersAnyAuthenticatedPacketTraversal,
  timersDataReceived,
  timersHandshakeComplete,
  timersSessionDerived,
} from './timers.js';

/** Handles one datagram from the Bind (takes ownership of `data`: transport messages are decrypted in place). */
export function receiveDatagram(ctx: DeviceContext, data: Uint8Array, from: Endpoint, now: number): void {
  const c = ctx.counters;
  c.rxDatagrams++;
  c.rxBytes += data.length;
  if (data.length < MIN_MESSAGE_SIZE) {
    c.dropTooShort++;
    return;
  }
  switch (readU32LE(data, 0)) {
    case MESSAGE_TRANSPORT_TYPE:
      receiveTransport(ctx, data, from, now);
      return;
    case MESSAGE_INITIATION_TYPE:
      if (data.length !== MESSAGE_INITIATION_SIZE) break;
      receiveHandshake(ctx, data, from, now);
      return;
    case MESSAGE_RESPONSE_TYPE:
      if (data.length !== MESSAGE_RESPONSE_SIZE) break;
      receiveHandshake(ctx, data, from, now);
      return;
    case MESSAGE_COOKIE_REPLY_TYPE:
      if (data.length !== MESSAGE_COOKIE_REPLY_SIZE) break;
      receiveCookieReply(ctx, data, now);
      return;
    default:
      c.dropUnknownType++;
      return;
  }
  c.dropBadLength++;
}

function receiveCookieReply(ctx: DeviceContext, data: Uint8Array, now: number): void {
  const entry = ctx.indexTable.lookup(readU32LE(data, 4));
  if (entry === undefined) {
    ctx.counters.dropUnknownIndex++;
    return;
  }
  if (!entry.peer.cookieGenerator.consumeReply(data, now)) {
    ctx.counters.dropInvalidCookieReply++;
    return;
  }
  ctx.counters.rxCookieReplies++;
  ctx.logf('%s: received cookie reply', entry.peer.toString());
}

/** The part of an endpoint that identifies the source host, for the rate limiter: `ip` of `ip:port`. */
function sourceHost(from: Endpoint): string {
  const i = from.lastIndexOf(':');
  return i > 0 && /^[0-9]+$/.test(from.slice(i + 1)) ? from.slice(0, i) : from;
}

function receiveHandshake(ctx: DeviceContext, data: Uint8Array, from: Endpoint, now: number): void {
  const c = ctx.counters;
  if (!ctx.cookieChecker.checkMAC1(data)) {
    c.dropBadMac1++;
    return;
  }
  if (ctx.isUnderLoad(now)) {
    const src = utf8(from);
    if (!ctx.cookieChecker.checkMAC2(data, src, now)) {
      c.dropNeedCookie++;
      const reply = ctx.cookieChecker.createReply(data, readU32LE(data, 4), src, now);
      if (ctx.send(reply, from)) c.txCookieReplies++;
      return;
    }
    if (!ctx.rateLimiter.allow(sourceHost(from), now)) {
      c.dropRateLimited++;
      return;
    }
  }
  if (data[0] === MESSAGE_INITIATION_TYPE) {
    const ci = consumeMessageInitiation(
      ctx.id,
      data,
      (pk) => {
        const peer = ctx.lookupPeer(pk);
        return peer === undefined ? undefined : { peer, hs: peer.handshake };
      },
      now,
      HANDSHAKE_INITIATION_RATE_MS,
    );
    if (ci === null) {
      c.dropInvalidInitiation++;
      return;
    }
    commitInitiation(ci, now);
    const peer = ci.peer;
    c.rxHandshakeInitiations++;
    timersAnyAuthenticatedPacketTraversal(peer, now);
    timersAnyAuthenticatedPacketReceived(peer);
    peer.setEndpointFromPacket(from);
    peer.rxBytes += data.length;
    ctx.logf('%s: received handshake initiation', peer.toString());
    peer.sendHandshakeResponse(now);
    return;
  }
  // Response: find the handshake we started by the receiver index.
  const entry = ctx.indexTable.lookup(readU32LE(data, 8));
  if (entry === undefined || entry.handshake === undefined) {
    c.dropInvalidResponse++;
    return;
  }
  const peer = entry.peer;
  if (!consumeMessageResponse(ctx.id, entry.handshake, data)) {
    c.dropInvalidResponse++;
    return;
  }
  c.rxHandshakeResponses++;
  peer.setEndpointFromPacket(from);
  peer.rxBytes += data.length;
  ctx.logf('%s: received handshake response', peer.toString());
  timersAnyAuthenticatedPacketTraversal(peer, now);
  timersAnyAuthenticatedPacketReceived(peer);
  if (!peer.deriveKeypair(now)) return;
  timersSessionDerived(peer, now);
  timersHandshakeComplete(peer, true);
  peer.sendKeepalive(now);
}

function receiveTransport(ctx: DeviceContext, data: Uint8Array, from: Endpoint, now: number): void {
  const c = ctx.counters;
  const entry = ctx.indexTable.lookup(readU32LE(data, 4));
  const kp = entry?.keypair;
  if (entry === undefined || kp === undefined) {
    c.dropUnknownIndex++;
    return;
  }
  if (now - kp.created >= REJECT_AFTER_TIME_MS) {
    c.dropExpiredKeypair++;
    return;
  }
  // A u64 counter ≥ 2^53 cannot be represented exactly; the high word tells (see constants.ts).
  if (readU32LE(data, 12) >= 0x20_0000) {
    c.dropCounterLimit++;
    return;
  }
  const counter = readU64LE(data, 8);
  if (counter >= REJECT_AFTER_MESSAGES) {
    c.dropCounterLimit++;
    return;
  }
  const peer = entry.peer;
  const content = data.subarray(MESSAGE_TRANSPORT_OFFSET_CONTENT);
  const len = peer.openTransport(kp, counter, content);
  if (len < 0) {
    c.dropDecryptFailed++;
    return;
  }
  if (!kp.replayFilter.validateCounter(counter, REJECT_AFTER_MESSAGES)) {
    c.dropReplay++;
    return;
  }
  if (peer.receivedWithKeypair(kp)) {
    peer.setEndpointFromPacket(from);
    timersHandshakeComplete(peer, false);
    peer.sendStagedPackets(now);
  }
  peer.rxBytes += data.length;
  let packet: Uint8Array | null = null;
  if (len === 0) c.rxKeepalives++;
  else packet = checkInnerPacket(ctx, peer, content.subarray(0, len));
  peer.setEndpointFromPacket(from);
  keepKeyFreshReceiving(peer, now);
  timersAnyAuthenticatedPacketTraversal(peer, now);
  timersAnyAuthenticatedPacketReceived(peer);
  if (len > 0) timersDataReceived(peer, now);
  // Deliver last: the TUN side may answer synchronously (re-entering the send path), and must
  // find the peer's state and timers already updated for this packet.
  if (packet !== null) {
    c.rxDataPackets++;
    ctx.out.deliverPacket(packet, peer.publicKeyText);
  }
}

/**
 * Trims the decrypted packet to its IP length and checks its source against the peer's allowed IPs
 * (cryptokey routing, WireGuard paper §2). Returns the packet, or `null` (counted) to drop it.
 */
function checkInnerPacket(ctx: DeviceContext, peer: Peer, p: Uint8Array): Uint8Array | null {
  const version = p[0]! >> 4;
  let packet: Uint8Array;
  let src: Uint8Array;
  if (version === 4) {
    if (p.length < 20) return badIp(ctx);
    const total = (p[2]! << 8) | p[3]!;
    if (total > p.length || total < 20) return badIp(ctx);
    packet = p.subarray(0, total);
    src = packet.subarray(12, 16);
  } else if (version === 6) {
    if (p.length < 40) return badIp(ctx);
    const total = ((p[4]! << 8) | p[5]!) + 40;
    if (total > p.length) return badIp(ctx);
    packet = p.subarray(0, total);
    src = packet.subarray(8, 24);
  } else {
    return badIp(ctx);
  }
  if (ctx.allowedIps.lookup(src) !== peer) {
    ctx.counters.dropNotAllowedSource++;
    return null;
  }
  return packet;
}

function badIp(ctx: DeviceContext): null {
  ctx.counters.dropBadIpPacket++;
  return null;
}

/** wireguard-go `keepKeyFreshReceiving`: the initiator rekeys shortly before REJECT_AFTER_TIME. */
function keepKeyFreshReceiving(peer: Peer, now: number): void {
  if (peer.timers.sentLastMinuteHandshake) return;
  const kp = peer.keypairs.current;
  if (kp?.isInitiator && now - kp.created > REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS) {
    peer.timers.sentLastMinuteHandshake = true;
    peer.sendHandshakeInitiation(false, now);
  }
}
