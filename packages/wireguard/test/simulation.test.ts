/**
 * Two Devices over a ChannelNetwork on a FakeClock: the protocol's behaviour over minutes of
 * simulated time, in milliseconds of real time.
 */
import { describe, expect, it } from 'vitest';
import {
  CookieGenerator,
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  MESSAGE_TRANSPORT_TYPE,
  REJECT_AFTER_MESSAGES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
  SEND_HEADROOM,
  SEND_TAILROOM,
  UNDER_LOAD_AFTER_TIME_MS,
  UNDER_LOAD_HANDSHAKES,
} from '../src/index.js';
import { A_IP, B_IP, dataPacket, makePair, packetNumber } from './helpers.js';

describe('simulation: two devices over ChannelBind', () => {
  it('handshake on first packet, then data both ways', async () => {
    const { clock, a, b, tunA, tunB, aKey, bKey } = await makePair();
    const events: string[] = [];
    a.on('handshake', (e) => events.push(`a:${e.initiator ? 'init' : 'resp'}:${e.publicKey === bKey}`));
    b.on('handshake', (e) => events.push(`b:${e.initiator ? 'init' : 'resp'}:${e.publicKey === aKey}`));
    expect(a.send(dataPacket(A_IP, B_IP, 1))).toBe(true);
    clock.advance(10);
    expect(tunB.received.map(packetNumber)).toEqual([1]);
    expect(events).toEqual(['a:init:true', 'b:resp:true']);
    // B learned A's endpoint from the handshake and replies.
    expect(b.peerStats(aKey)!.endpoint).toBe('a:1');
    expect(b.send(dataPacket(B_IP, A_IP, 2))).toBe(true);
    clock.advance(10);
    expect(tunA.received.map(packetNumber)).toEqual([2]);
    const sa = a.peerStats(bKey)!;
    const sb = b.peerStats(aKey)!;
    expect(sa.latestHandshake).toBeGreaterThan(0);
    expect(sb.latestHandshake).toBeGreaterThan(0);
    expect(sa.txBytes).toBe(sb.rxBytes);
    expect(sb.txBytes).toBe(sa.rxBytes);
    expect(sa.allowedIps).toEqual(['10.0.0.2/32']);
    expect(a.counters.txHandshakeInitiations).toBe(1);
    expect(b.counters.txHandshakeResponses).toBe(1);
    // Exactly sized transport messages: 64-byte packet + 16 header + 16 tag.
    expect(a.counters.internalErrors + b.counters.internalErrors).toBe(0);
    // No route: a packet for an address no peer has.
    expect(a.send(dataPacket(A_IP, [10, 9, 9, 9], 3))).toBe(false);
    expect(a.counters.dropNoRoute).toBe(1);
    await a.close();
    await b.close();
  });

  it('sendWithHeadroom seals in place, same bytes on the wire as send', async () => {
    const { clock, net, a, b, tunB } = await makePair();
    net.record = true;
    a.send(dataPacket(A_IP, B_IP, 1, 61));
    clock.advance(10);
    const ip = dataPacket(A_IP, B_IP, 2, 61);
    const buf = new Uint8Array(SEND_HEADROOM + ip.length + SEND_TAILROOM).fill(0xee);
    buf.set(ip, SEND_HEADROOM);
    expect(a.sendWithHeadroom(buf, SEND_HEADROOM, ip.length)).toBe(true);
    clock.advance(10);
    expect(tunB.received.map(packetNumber)).toEqual([1, 2]);
    const sent = net.log.filter((d) => d.from === 'a:1' && d.data[0] === MESSAGE_TRANSPORT_TYPE).at(-1)!;
    expect(sent.data.length).toBe(32 + 64);
    expect(() => a.sendWithHeadroom(buf, 15, ip.length)).toThrow(RangeError);
    expect(() => a.sendWithHeadroom(buf, SEND_HEADROOM, ip.length + 1)).toThrow(RangeError);
    await a.close();
    await b.close();
  });

  it('packets are padded to 16 and a keepalive is 32 bytes', async () => {
    const { clock, net, a, b } = await makePair();
    net.record = true;
    a.send(dataPacket(A_IP, B_IP, 1, 61));
    clock.advance(10);
    const transport = net.log.filter((d) => d.data[0] === MESSAGE_TRANSPORT_TYPE && d.from === 'a:1');
    expect(transport.map((d) => d.data.length)).toEqual([32 + 64]); // 61 → 64 padded
    // A keepalive: empty transport message.
    clock.advance(KEEPALIVE_TIMEOUT_MS + 10);
    const fromB = net.log.filter((d) => d.data[0] === MESSAGE_TRANSPORT_TYPE && d.from === 'b:1');
    expect(fromB.map((d) => d.data.length)).toContain(32);
    expect(a.counters.rxKeepalives).toBeGreaterThanOrEqual(1);
    await a.close();
    await b.close();
  });

  it('rekeys at REKEY_AFTER_TIME without losing packets', async () => {
    const { clock, a, b, tunB, bKey } = await makePair();
    let handshakes = 0;
    a.on('handshake', () => handshakes++);
    let n = 0;
    for (let t = 0; t < REKEY_AFTER_TIME_MS + 30_000; t += 1000) {
      a.send(dataPacket(A_IP, B_IP, ++n));
      clock.advance(1000);
    }
    expect(handshakes).toBe(2);
    expect(tunB.received.length).toBe(n);
    const peer = a.core.debugPeer(bKey);
    expect(peer.keypairs.current).toBeDefined();
    expect(peer.keypairs.previous).toBeDefined();
    expect(clock.now() - peer.keypairs.current!.created).toBeLessThan(40_000);
    expect(a.counters.txHandshakeInitiations).toBe(2);
    await a.close();
    await b.close();
  });

  it('sends a passive keepalive KEEPALIVE_TIMEOUT after receiving data', async () => {
    const { clock, a, b } = await makePair();
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    // B got data and sends nothing back, so B sends a keepalive after 10 s.
    clock.advance(KEEPALIVE_TIMEOUT_MS - 100);
    expect(b.counters.txKeepalives).toBe(0);
    clock.advance(200);
    expect(b.counters.txKeepalives).toBe(1);
    clock.advance(5);
    expect(a.counters.rxKeepalives).toBeGreaterThanOrEqual(1);
    await a.close();
    await b.close();
  });

  it('a TUN that answers synchronously re-enters the send path safely (no needless keepalive)', async () => {
    const { clock, a, b, tunA, tunB } = await makePair();
    tunB.onWrite = (p) => tunB.inject(dataPacket(B_IP, A_IP, packetNumber(p) + 1000));
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    expect(tunA.received.map(packetNumber)).toEqual([1001]);
    clock.advance(KEEPALIVE_TIMEOUT_MS + 500);
    // B answered with data, so B owes no keepalive; A received data and sent nothing, so A does.
    expect(b.counters.txKeepalives).toBe(0);
    expect(a.counters.txKeepalives).toBe(1);
    await a.close();
    await b.close();
  });

  it('persistent keepalive every N seconds', async () => {
    const { clock, a, b, bKey } = await makePair();
    a.updatePeer(bKey, { persistentKeepalive: 25 });
    clock.advance(100);
    const k0 = b.counters.rxKeepalives;
    clock.advance(100_000);
    // One every 25 s: four in 100 s.
    expect(b.counters.rxKeepalives - k0).toBe(4);
    expect(a.peerStats(bKey)!.persistentKeepalive).toBe(25);
    await a.close();
    await b.close();
  });

  it('a silent peer: new handshake after KEEPALIVE+REKEY_TIMEOUT, retries, gives up, keys zeroed', async () => {
    const { clock, net, a, b, bKey } = await makePair();
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    const kp = a.core.debugPeer(bKey).keypairs.current!;
    expect(kp).toBeDefined();
    // B goes silent.
    net.filter = (d) => d.from !== 'b:1';
    const i0 = a.counters.txHandshakeInitiations;
    a.send(dataPacket(A_IP, B_IP, 2));
    clock.advance(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS - 10);
    expect(a.counters.txHandshakeInitiations).toBe(i0);
    clock.advance(400); // + jitter (< 334 ms)
    expect(a.counters.txHandshakeInitiations).toBe(i0 + 1);
    // Retries every REKEY_TIMEOUT (+jitter) until MAX_TIMER_HANDSHAKES, then gives up.
    clock.advance(120_000);
    expect(a.counters.txHandshakeInitiations).toBe(i0 + 1 + MAX_TIMER_HANDSHAKES + 1);
    clock.advance(60_000);
    expect(a.counters.txHandshakeInitiations).toBe(i0 + 1 + MAX_TIMER_HANDSHAKES + 1);
    // Keys are erased 3 × REJECT_AFTER_TIME after the session was derived.
    expect(a.core.debugPeer(bKey).keypairs.current).toBeDefined();
    clock.advance(3 * REJECT_AFTER_TIME_MS);
    const peer = a.core.debugPeer(bKey);
    expect(peer.keypairs.current).toBeUndefined();
    expect(peer.keypairs.previous).toBeUndefined();
    expect(kp.sendKey.every((x) => x === 0)).toBe(true);
    expect(a.core.pollAt()).toBe(Number.POSITIVE_INFINITY);
    await a.close();
    await b.close();
  });

  it('a keypair older than REJECT_AFTER_TIME is neither used nor accepted', async () => {
    const { clock, net, a, b, tunB, bKey } = await makePair();
    net.record = true;
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    const old = net.log.filter((d) => d.data[0] === MESSAGE_TRANSPORT_TYPE && d.from === 'a:1').at(-1)!;
    clock.advance(REJECT_AFTER_TIME_MS);
    // An old message arriving now is dropped: its keypair expired.
    const before = b.counters.dropExpiredKeypair;
    net.transmit('a:1', 'b:1', old.data);
    clock.advance(5);
    expect(b.counters.dropExpiredKeypair).toBe(before + 1);
    // Sending now needs a new handshake first; the packet arrives after it.
    const i0 = a.counters.txHandshakeInitiations;
    a.send(dataPacket(A_IP, B_IP, 2));
    clock.advance(10);
    expect(a.counters.txHandshakeInitiations).toBe(i0 + 1);
    expect(tunB.received.map(packetNumber)).toEqual([1, 2]);
    expect(a.core.debugPeer(bKey).keypairs.current!.created).toBeGreaterThan(REJECT_AFTER_TIME_MS);
    await a.close();
    await b.close();
  });

  it('under load: cookie reply, then mac2, then the handshake completes', async () => {
    const { clock, a, b, tunB, bKey } = await makePair({ b: { underLoadHandshakes: 0 } });
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    expect(b.counters.dropNeedCookie).toBe(1);
    expect(b.counters.txCookieReplies).toBe(1);
    expect(a.counters.rxCookieReplies).toBe(1);
    expect(tunB.received).toHaveLength(0);
    expect(a.core.debugPeer(bKey).cookieGenerator.hasCookie(clock.now())).toBe(true);
    // The retransmission after REKEY_TIMEOUT carries mac2 and is accepted.
    clock.advance(REKEY_TIMEOUT_MS + 400);
    expect(b.counters.dropNeedCookie).toBe(1);
    expect(b.counters.rxHandshakeInitiations).toBe(1);
    expect(tunB.received.map(packetNumber)).toEqual([1]);
    await a.close();
    await b.close();
  });

  it('under load: the per-source rate limiter caps handshakes', async () => {
    const { clock, net, a, b, bKey } = await makePair({ b: { underLoadHandshakes: 0 } });
    net.record = true;
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(REKEY_TIMEOUT_MS + 400); // cookie, then a completed handshake
    expect(b.counters.rxHandshakeInitiations).toBe(1);
    // Replay the mac2-bearing initiation 20 times in one instant: 4 more pass the bucket (burst 5), the rest are limited.
    const init = net.log.filter((d) => d.data[0] === 1 && d.from === 'a:1').at(-1)!;
    for (let i = 0; i < 20; i++) net.transmit('a:1', 'b:1', init.data);
    clock.advance(5);
    expect(b.counters.dropRateLimited).toBe(16);
    // The 4 that passed are replays (old timestamp) and are rejected by Noise.
    expect(b.counters.dropInvalidInitiation).toBe(4);
    expect(a.peerStats(bKey)!.latestHandshake).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });

  it('under load is detected from the handshake rate: past 128/s, cookies are demanded', async () => {
    const { clock, net, a, b, crypto } = await makePair();
    const gen = new CookieGenerator(crypto, b.publicKey);
    // Initiations with a valid mac1 (anyone who knows B's public key can make them) but garbage inside.
    for (let i = 0; i < UNDER_LOAD_HANDSHAKES + 20; i++) {
      const m = crypto.randomBytes(148);
      m.set([1, 0, 0, 0], 0);
      gen.addMacs(m, clock.now());
      net.transmit(`flood:${i}`, 'b:1', m);
    }
    clock.advance(5);
    expect(b.counters.dropInvalidInitiation).toBe(UNDER_LOAD_HANDSHAKES);
    expect(b.counters.dropNeedCookie).toBe(20);
    expect(b.counters.txCookieReplies).toBe(20);
    // Under load for UNDER_LOAD_AFTER_TIME, then back to normal: A's handshake needs no cookie.
    clock.advance(UNDER_LOAD_AFTER_TIME_MS + 1);
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    expect(b.counters.rxHandshakeInitiations).toBe(1);
    expect(b.counters.dropNeedCookie).toBe(20);
    await a.close();
    await b.close();
  });

  it('a keypair that reached REJECT_AFTER_MESSAGES is not used: a new handshake first', async () => {
    const { clock, a, b, tunB, bKey } = await makePair();
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(REKEY_TIMEOUT_MS + 10);
    const kp = a.core.debugPeer(bKey).keypairs.current!;
    kp.sendNonce = REJECT_AFTER_MESSAGES;
    const i0 = a.counters.txHandshakeInitiations;
    a.send(dataPacket(A_IP, B_IP, 2));
    clock.advance(10);
    expect(a.counters.txHandshakeInitiations).toBe(i0 + 1);
    expect(a.core.debugPeer(bKey).keypairs.current).not.toBe(kp);
    expect(tunB.received.map(packetNumber)).toEqual([1, 2]);
    await a.close();
    await b.close();
  });

  it('replayed packets are dropped; reordered ones are accepted', async () => {
    const { clock, net, a, b, tunB } = await makePair({ net: { reorder: 0.3, reorderDelayMs: 7, seed: 42 } });
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(50); // handshake first: only QUEUE_STAGED_SIZE packets wait for one
    net.record = true;
    for (let i = 2; i <= 300; i++) a.send(dataPacket(A_IP, B_IP, i));
    clock.advance(50);
    const got = tunB.received.map(packetNumber);
    expect(new Set(got).size).toBe(300);
    // Reordering happened, and nothing was lost to the replay window.
    expect(got.some((n, i) => i > 0 && n < got[i - 1]!)).toBe(true);
    // Replay every transport message: all dropped as replays.
    const replays = net.log.filter((d) => d.data[0] === MESSAGE_TRANSPORT_TYPE && d.from === 'a:1');
    for (const d of replays) net.transmit('a:1', 'b:1', d.data);
    clock.advance(50);
    expect(b.counters.dropReplay).toBe(replays.length);
    expect(tunB.received.length).toBe(300);
    await a.close();
    await b.close();
  });

  it('duplicated and lossy links: duplicates dropped, retransmitted handshakes recover', async () => {
    const { clock, a, b, tunB } = await makePair({ net: { duplicate: 0.2, loss: 0.1, seed: 9 } });
    for (let i = 1; i <= 200; i++) {
      a.send(dataPacket(A_IP, B_IP, i));
      clock.advance(100);
    }
    clock.advance(1000);
    const got = tunB.received.map(packetNumber);
    expect(new Set(got).size).toBe(got.length); // no duplicates delivered
    expect(got.length).toBeGreaterThan(150);
    expect(b.counters.dropReplay).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });

  it.each([0, 0.05, 0.15, 0.3])(
    'seeded loss %f both ways: the handshake completes and delivery tracks the loss rate',
    async (loss) => {
      const { clock, a, b, tunB } = await makePair({ net: { loss, seed: 1234 } });
      let handshakeAt = -1;
      a.on('handshake', () => {
        if (handshakeAt < 0) handshakeAt = clock.now();
      });
      // One packet per 100 ms for 60 s: the first ones also drive the handshake (retried every ~5 s).
      for (let i = 1; i <= 600; i++) {
        a.send(dataPacket(A_IP, B_IP, i));
        clock.advance(100);
      }
      expect(handshakeAt).toBeGreaterThan(0);
      expect(handshakeAt - 1000).toBeLessThan(30_000);
      const sentAfter = 600 - Math.ceil((handshakeAt - 1000) / 100);
      const got = tunB.received.map(packetNumber).filter((n) => n > 600 - sentAfter + 1).length;
      expect(got / sentAfter).toBeGreaterThan(1 - loss - 0.08);
      expect(b.counters.internalErrors + a.counters.internalErrors).toBe(0);
      await a.close();
      await b.close();
    },
  );

  it('roaming: the endpoint follows authenticated packets', async () => {
    const { clock, net, a, b, tunA, bindA, aKey } = await makePair();
    const moves: string[] = [];
    b.on('endpoint', (e) => moves.push(e.endpoint));
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    expect(b.peerStats(aKey)!.endpoint).toBe('a:1');
    // A moves to a new address (NAT rebinding, new network).
    net.rebind(bindA, 'a:2');
    a.send(dataPacket(A_IP, B_IP, 2));
    clock.advance(10);
    expect(b.peerStats(aKey)!.endpoint).toBe('a:2');
    b.send(dataPacket(B_IP, A_IP, 3));
    clock.advance(10);
    expect(tunA.received.map(packetNumber)).toEqual([3]);
    expect(moves).toEqual(['a:1', 'a:2']);
    // A forged packet from elsewhere (does not authenticate) does not move the endpoint.
    const forged = new Uint8Array(64);
    forged[0] = MESSAGE_TRANSPORT_TYPE;
    net.transmit('evil:1', 'b:1', forged);
    clock.advance(10);
    expect(b.peerStats(aKey)!.endpoint).toBe('a:2');
    await a.close();
    await b.close();
  });

  it('cryptokey routing: a packet from a source outside the allowed IPs is dropped and counted', async () => {
    const { clock, a, b, tunB, bKey } = await makePair();
    a.updatePeer(bKey, { allowedIps: ['10.0.0.2/32', '10.5.0.0/16'] });
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    // A spoofs another source address inside the tunnel: B drops it.
    a.send(dataPacket([10, 0, 0, 99], B_IP, 2));
    clock.advance(10);
    expect(tunB.received.map(packetNumber)).toEqual([1]);
    expect(b.counters.dropNotAllowedSource).toBe(1);
    // Outbound routing chooses by destination: 10.5.1.1 goes to B too.
    expect(a.send(dataPacket(A_IP, [10, 5, 1, 1], 3))).toBe(true);
    await a.close();
    await b.close();
  });

  it('the responder can initiate too, and a preshared key works', async () => {
    const psk = new Uint8Array(32).fill(0x42);
    const { clock, a, b, tunA, aKey } = await makePair({ psk, bKnowsAEndpoint: true });
    b.send(dataPacket(B_IP, A_IP, 7));
    clock.advance(10);
    expect(tunA.received.map(packetNumber)).toEqual([7]);
    expect(b.peerStats(aKey)!.hasPresharedKey).toBe(true);
    await a.close();
    await b.close();
  });

  it('simultaneous initiations from both sides resolve into one working session', async () => {
    const { clock, a, b, tunA, tunB } = await makePair({ bKnowsAEndpoint: true });
    a.send(dataPacket(A_IP, B_IP, 1));
    b.send(dataPacket(B_IP, A_IP, 2));
    clock.advance(REKEY_TIMEOUT_MS * 3);
    expect(tunB.received.map(packetNumber)).toContain(1);
    expect(tunA.received.map(packetNumber)).toContain(2);
    a.send(dataPacket(A_IP, B_IP, 3));
    b.send(dataPacket(B_IP, A_IP, 4));
    clock.advance(10);
    expect(tunB.received.map(packetNumber).at(-1)).toBe(3);
    expect(tunA.received.map(packetNumber).at(-1)).toBe(4);
    await a.close();
    await b.close();
  });

  it('lazy peers: an unknown initiator is added from peerLookup', async () => {
    const asked: string[] = [];
    const { clock, a, b, tunB, aKey } = await makePair({
      b: {
        peerLookup: (pk) => {
          asked.push(pk);
          return { publicKey: pk, allowedIps: ['10.0.0.1/32'] };
        },
      },
    });
    b.removePeer(aKey);
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    expect(asked).toEqual([aKey]);
    expect(tunB.received.map(packetNumber)).toEqual([1]);
    expect(b.peerStats(aKey)!.endpoint).toBe('a:1');
    await a.close();
    await b.close();
  });

  it('mismatched preshared keys never complete a handshake', async () => {
    const { clock, a, b, tunB, aKey } = await makePair();
    b.updatePeer(aKey, { presharedKey: new Uint8Array(32).fill(1) });
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(30_000);
    expect(tunB.received).toHaveLength(0);
    expect(a.counters.dropInvalidResponse).toBeGreaterThan(0);
    await a.close();
    await b.close();
  });

  it('removing a peer erases its keys and routes', async () => {
    const { clock, a, b, bKey } = await makePair();
    a.send(dataPacket(A_IP, B_IP, 1));
    clock.advance(10);
    const kp = a.core.debugPeer(bKey).keypairs.current!;
    expect(a.removePeer(bKey)).toBe(true);
    expect(kp.sendKey.every((x) => x === 0)).toBe(true);
    expect(a.send(dataPacket(A_IP, B_IP, 2))).toBe(false);
    expect(a.peers()).toEqual([]);
    await a.close();
    await b.close();
  });
});
