/**
 * A STUN responder on UDP (tailscale `net/stunserver`): answers binding requests with the
 * sender's address, so clients can learn their public endpoint and measure latency to a region.
 * Anything else is dropped and counted.
 */

import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { discardLogf, IPAddr, type Logf } from '@tsnet/core';
import { parseStunBindingRequest, stunBindingResponse } from '../wire/stun.js';

/** What a `StunServer` has seen since it was created. */
export interface StunServerCounters {
  /** Well-formed binding requests received. */
  requests: number;
  /** Binding responses sent. */
  responses: number;
  /** Datagrams ignored: not a binding request, or (also counted in `requests`) an unparsable sender. */
  dropped: number;
}

/**
 * A STUN binding responder on one UDP socket: each request is answered with the sender's address
 * and port (XOR-MAPPED-ADDRESS).
 *
 * @example
 * ```ts
 * import { StunServer } from '@tsnet/derp';
 * const stun = new StunServer();
 * const port = await stun.listen({ host: '127.0.0.1', port: 0 });
 * await stun.close();
 * ```
 */
export class StunServer {
  /** Live counters, readable at any time. */
  readonly counters: StunServerCounters = { requests: 0, responses: 0, dropped: 0 };
  readonly #logf: Logf;
  #socket: Socket | null = null;

  constructor(options: { logf?: Logf } = {}) {
    this.#logf = options.logf ?? discardLogf;
  }

  /** Binds and resolves with the UDP port. */
  async listen(options: { host?: string; port?: number } = {}): Promise<number> {
    if (this.#socket !== null) throw new Error('StunServer is already listening');
    const host = options.host ?? '127.0.0.1';
    const sock = createSocket({ type: isIPv4(host) ? 'udp4' : 'udp6', ipv6Only: !isIPv4(host) });
    this.#socket = sock;
    sock.on('message', (msg, rinfo) => this.#onMessage(sock, msg, rinfo.address, rinfo.port));
    sock.on('error', (err) => this.#logf('stun: %s', err.message));
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(options.port ?? 0, host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    return sock.address().port;
  }

  #onMessage(sock: Socket, msg: Uint8Array, address: string, port: number): void {
    const tx = parseStunBindingRequest(msg);
    if (tx === null) {
      this.counters.dropped++;
      return;
    }
    this.counters.requests++;
    const ip = IPAddr.tryParse(address);
    if (ip === null) {
      this.counters.dropped++;
      return;
    }
    const plain = ip.is4In6() ? ip.unmap() : ip;
    sock.send(stunBindingResponse(tx, plain.bytes, port), port, address);
    this.counters.responses++;
  }

  /** Closes the UDP socket; does nothing if not listening. */
  async close(): Promise<void> {
    const s = this.#socket;
    this.#socket = null;
    if (s !== null) await new Promise<void>((r) => s.close(() => r()));
  }
}
