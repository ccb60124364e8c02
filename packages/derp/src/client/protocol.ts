/**
 * The client side of one DERP connection as a sans-IO state machine (tailscale
 * `derp/derp_client.go`): bytes from the server go in (`receive`), typed events come out, and the
 * frames the protocol itself must send (ClientInfo, Pong) wait in `outbox` for the driver. No
 * sockets, no timers: `client.ts` owns those.
 *
 * States: `AwaitServerKey` (the first frame must be ServerKey with the magic, unless the key is
 * already known) → `Ready` (ClientInfo sent; ServerInfo arrives asynchronously, packets may flow
 * at once, as in Go) → `Failed` (the stream is broken; the driver reconnects).
 */

import { type CryptoProvider, NodePublic } from '@tsnet/core';
import { type KeyId, keyId } from '../key-id.js';
import { FRAME_TYPE, MAX_FRAME_LEN, PROTOCOL_VERSION } from '../wire/constants.js';
import { describeFrameType, encodePingPong, parseFrame } from '../wire/frames.js';
import { type ClientInfo, openServerInfo, type ServerInfo, sealClientInfoFrame } from '../wire/info.js';
import { FrameReader, isReaderFailure } from '../wire/reader.js';

/** What the server said, one event per frame that matters. Byte fields alias the reader. */
export type ClientEvent =
  | {
      /** The server's key is known and our ClientInfo is in `outbox`: packets may be sent. */
      type: 'ready';
      /** The server's public key. */
      serverKey: NodePublic;
    }
  | {
      /** The server's ServerInfo arrived (protocol version, rate limits). */
      type: 'serverInfo';
      /** What the server said about itself. */
      info: ServerInfo;
    }
  /** `packet` aliases the reader's buffer: valid only until the next `receive`. */
  | {
      /** A packet from a peer, relayed by the server. */
      type: 'packet';
      /** The sender's node key. */
      src: NodePublic;
      /** The sender's key as a number, for fast lookups. */
      srcId: KeyId;
      /** The packet (a WireGuard or disco datagram). */
      packet: Uint8Array;
    }
  | {
      /** The server's keep-alive: the connection is alive. */
      type: 'keepAlive';
    }
  | {
      /** A peer we sent to is no longer connected to this server. */
      type: 'peerGone';
      /** The peer's node key. */
      peer: NodePublic;
      /** Why: 0 disconnected, 1 not here (`PEER_GONE_REASON`); a frame without the byte means 0. */
      reason: number;
    }
  | {
      /** A peer connected to this server (sent to watchers and mesh peers). */
      type: 'peerPresent';
      /** The peer's node key. */
      peer: NodePublic;
      /** The peer's IP as 16 bytes (IPv4 mapped), if the server sent it. */
      ip?: Uint8Array;
      /** The peer's port, if the server sent it. */
      port?: number;
      /** `PEER_PRESENT_FLAGS` bits, if the server sent them. */
      flags?: number;
    }
  | {
      /** The server pinged us; with `info.canAckPings` the Pong is already queued in `outbox`. */
      type: 'ping';
      /** The 8 bytes to echo. */
      data: Uint8Array;
    }
  | {
      /** The server answered our ping. */
      type: 'pong';
      /** The 8 bytes we sent. */
      data: Uint8Array;
    }
  | {
      /** The server reports a problem with our connection (empty: the problem is gone). */
      type: 'health';
      /** The problem, in the server's words. */
      problem: string;
    }
  | {
      /** The server is restarting: reconnect after `reconnectInMs`. */
      type: 'restarting';
      /** Wait this long before reconnecting, in ms. */
      reconnectInMs: number;
      /** Keep retrying quickly for this long after that, in ms. */
      tryForMs: number;
    }
  | {
      /** The protocol failed (bad greeting, unopenable ServerInfo, oversized frame): close the connection. */
      type: 'failed';
      /** What went wrong, for logs. */
      reason: string;
    };

/** Where the handshake is (see the module doc); `Failed` is final. */
export type ClientProtocolState = 'AwaitServerKey' | 'Ready' | 'Failed';

/** What `ClientProtocol` needs: our keys and what to say in ClientInfo. */
export interface ClientProtocolOptions {
  /** NaCl box for ClientInfo and ServerInfo. */
  crypto: CryptoProvider;
  /** Our 32-byte node private key (seals ClientInfo, opens ServerInfo). */
  privateKey: Uint8Array;
  /** Our 32-byte node public key: our DERP address, sent in ClientInfo. */
  publicKey: Uint8Array;
  /** The ClientInfo to send; `version` 0 becomes `PROTOCOL_VERSION`. */
  info: ClientInfo;
  /** The server's key if known beforehand (e.g. from the meta cert); skips waiting for ServerKey. */
  serverKey?: Uint8Array;
}

/** Source keys seen recently, so a packet does not allocate a NodePublic each time. */
const SRC_CACHE_MAX = 1024;

/**
 * One client connection's protocol, sans-IO: feed it the server's bytes with `receive`, act on the
 * events, and write out whatever appears in `outbox`.
 *
 * @example
 * ```ts
 * import { getCryptoProvider, NodePrivate } from '@tsnet/core';
 * import { ClientProtocol } from '@tsnet/derp';
 * const crypto = getCryptoProvider();
 * const key = NodePrivate.generate(crypto);
 * const p = new ClientProtocol({
 *   crypto,
 *   privateKey: key.raw,
 *   publicKey: key.public(crypto).raw,
 *   info: { version: 2, canAckPings: true },
 * });
 * // `socket`: a net.Socket after the `Upgrade: DERP` response.
 * socket.on('data', (chunk: Buffer) => {
 *   for (const e of p.receive(chunk)) if (e.type === 'packet') console.log(e.src, e.packet.length);
 *   for (const f of p.outbox.splice(0)) socket.write(f);
 * });
 * ```
 */
export class ClientProtocol {
  readonly #opts: ClientProtocolOptions;
  readonly #reader = new FrameReader({ maxFrameLen: MAX_FRAME_LEN });
  #state: ClientProtocolState = 'AwaitServerKey';
  #serverKey: Uint8Array | null = null;
  readonly #srcCache = new Map<KeyId, NodePublic>();
  /** Frames the protocol needs sent, in order; the driver takes them. */
  readonly outbox: Uint8Array[] = [];
  /** Frames ignored: unknown types, or malformed ones Go's client also skips. */
  framesSkipped = 0;

  constructor(opts: ClientProtocolOptions) {
    this.#opts = { ...opts, info: { ...opts.info, version: opts.info.version || PROTOCOL_VERSION } };
  }

  /** The handshake's state. */
  get state(): ClientProtocolState {
    return this.#state;
  }

  /** The server's 32-byte public key (a copy), once known; null before. */
  get serverKey(): Uint8Array | null {
    return this.#serverKey;
  }

  /**
   * Starts the handshake. With a known server key, ClientInfo goes out at once and the returned
   * event list holds `ready`.
   */
  start(events: ClientEvent[] = []): ClientEvent[] {
    if (this.#opts.serverKey !== undefined) this.#becomeReady(this.#opts.serverKey, events);
    return events;
  }

  /** Feeds bytes from the server; appends the resulting events to `events` and returns it. */
  receive(chunk: Uint8Array, events: ClientEvent[] = []): ClientEvent[] {
    if (this.#state === 'Failed') return events;
    this.#reader.push(chunk);
    for (;;) {
      const f = this.#reader.next();
      if (f === null) break;
      if (isReaderFailure(f)) {
        this.#fail(events, `unexpectedly large frame of ${f.length} bytes`);
        break;
      }
      if (!this.#onFrame(f.frameType, f.payload, events)) break;
    }
    return events;
  }

  #fail(events: ClientEvent[], reason: string): void {
    this.#state = 'Failed';
    events.push({ type: 'failed', reason });
  }

  #becomeReady(serverKey: Uint8Array, events: ClientEvent[]): void {
    const o = this.#opts;
    this.#serverKey = Uint8Array.from(serverKey);
    this.outbox.push(sealClientInfoFrame(o.crypto, o.privateKey, o.publicKey, this.#serverKey, o.info));
    this.#state = 'Ready';
    events.push({ type: 'ready', serverKey: NodePublic.fromBytes(this.#serverKey) });
  }

  #src(raw: Uint8Array): { src: NodePublic; srcId: KeyId } {
    const srcId = keyId(raw);
    let src = this.#srcCache.get(srcId);
    if (src === undefined) {
      if (this.#srcCache.size >= SRC_CACHE_MAX) this.#srcCache.clear();
      src = NodePublic.fromBytes(raw);
      this.#srcCache.set(srcId, src);
    }
    return { src, srcId };
  }

  /** Handles one frame; false when the stream failed. */
  #onFrame(frameType: number, payload: Uint8Array, events: ClientEvent[]): boolean {
    if (this.#state === 'AwaitServerKey') {
      // recvServerKey: the first frame must be ServerKey, with the magic.
      const f = frameType === FRAME_TYPE.ServerKey ? parseFrame(frameType, payload) : null;
      if (f === null || f.type !== 'ServerKey') {
        this.#fail(events, `invalid server greeting (${describeFrameType(frameType)})`);
        return false;
      }
      this.#becomeReady(f.serverKey, events);
      return true;
    }
    const f = parseFrame(frameType, payload);
    switch (f.type) {
      case 'RecvPacket': {
        const { src, srcId } = this.#src(f.src);
        events.push({ type: 'packet', src, srcId, packet: f.packet });
        return true;
      }
      case 'ServerInfo': {
        const info = openServerInfo(this.#opts.crypto, this.#opts.privateKey, this.#serverKey!, f.sealed);
        if (info === null) {
          // Go's client fails the connection: the box is from someone other than the server.
          this.#fail(events, 'invalid server info frame');
          return false;
        }
        events.push({ type: 'serverInfo', info });
        return true;
      }
      case 'KeepAlive':
        events.push({ type: 'keepAlive' });
        return true;
      case 'PeerGone':
        events.push({ type: 'peerGone', peer: this.#src(f.peer).src, reason: f.reason });
        return true;
      case 'PeerPresent': {
        const e: ClientEvent & { type: 'peerPresent' } = { type: 'peerPresent', peer: this.#src(f.peer).src };
        if (f.ip !== undefined) e.ip = Uint8Array.from(f.ip);
        if (f.port !== undefined) e.port = f.port;
        if (f.flags !== undefined) e.flags = f.flags;
        events.push(e);
        return true;
      }
      case 'Ping':
        if (this.#opts.info.canAckPings) this.outbox.push(encodePingPong('Pong', f.data));
        events.push({ type: 'ping', data: f.data });
        return true;
      case 'Pong':
        events.push({ type: 'pong', data: f.data });
        return true;
      case 'Health':
        events.push({ type: 'health', problem: f.problem });
        return true;
      case 'Restarting':
        events.push({ type: 'restarting', reconnectInMs: f.reconnectInMs, tryForMs: f.tryForMs });
        return true;
      default:
        // Unknown types, client-to-server types and malformed frames: skipped, as Go's Recv does.
        this.framesSkipped++;
        return true;
    }
  }
}
