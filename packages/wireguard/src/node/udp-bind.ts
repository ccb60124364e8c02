/**
 * A `Bind` on `node:dgram` UDP sockets: one IPv4 socket and (unless disabled) one IPv6-only socket
 * on the same port, as wireguard-go's `conn.StdNetBind` opens. Endpoints are text: `1.2.3.4:51820`
 * or `[2001:db8::1]:51820`; incoming datagrams are reported in the same form.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Bind } from '../bind.js';
import type { Endpoint } from '../context.js';
import { parseIpv4, parseIpv6 } from '../ip.js';

export interface UdpBindOptions {
  /** Port to listen on (0 or absent: any free port, the same for both families when possible). */
  port?: number | undefined;
  /** IPv4 address to bind (default `0.0.0.0`); `false` for no IPv4 socket. */
  host4?: string | false | undefined;
  /** IPv6 address to bind (default `::`); `false` for no IPv6 socket. */
  host6?: string | false | undefined;
}

interface ParsedEndpoint {
  family: 4 | 6;
  address: string;
  port: number;
}

/** Parses `ip:port` / `[ipv6]:port`; `null` if it is not one (host names are not resolved here). */
export function parseUdpEndpoint(ep: Endpoint): ParsedEndpoint | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):([0-9]{1,5})$/.exec(ep);
  if (m === null) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  if (m[1] !== undefined) return parseIpv6(m[1]) === null ? null : { family: 6, address: m[1], port };
  return parseIpv4(m[2]!) === null ? null : { family: 4, address: m[2]!, port };
}

export class UdpBind implements Bind {
  readonly #opts: UdpBindOptions;
  #v4: Socket | undefined;
  #v6: Socket | undefined;
  #port = 0;
  readonly #cache = new Map<Endpoint, ParsedEndpoint | null>();

  constructor(options: UdpBindOptions = {}) {
    const p = options.port ?? 0;
    if (!Number.isInteger(p) || p < 0 || p > 65535)
      throw new RangeError('port must be an integer in 0..65535');
    this.#opts = options;
  }

  /** The local UDP port (after `open`). */
  get port(): number {
    return this.#port;
  }

  async open(receive: (data: Uint8Array, from: Endpoint) => void): Promise<void> {
    const host4 = this.#opts.host4 ?? '0.0.0.0';
    const host6 = this.#opts.host6 ?? '::';
    let port = this.#opts.port ?? 0;
    if (host4 !== false) {
      this.#v4 = await listen('udp4', host4, port, (msg, rinfo) =>
        receive(toBytes(msg), `${rinfo.address}:${rinfo.port}`),
      );
      port = this.#v4.address().port;
    }
    if (host6 !== false) {
      try {
        this.#v6 = await listen('udp6', host6, port, (msg, rinfo) =>
          receive(toBytes(msg), `[${rinfo.address}]:${rinfo.port}`),
        );
        port = this.#v6.address().port;
      } catch (err) {
        // No IPv6 on this host (or the port is taken for IPv6 only): IPv4 alone still works.
        if (host4 === false) throw err;
        this.#v6 = undefined;
      }
    }
    this.#port = port;
  }

  send(data: Uint8Array, to: Endpoint): void {
    let ep = this.#cache.get(to);
    if (ep === undefined) {
      ep = parseUdpEndpoint(to);
      if (this.#cache.size > 4096) this.#cache.clear();
      this.#cache.set(to, ep);
    }
    if (ep === null) throw new TypeError(`endpoint is not ip:port or [ipv6]:port: ${to}`);
    const sock = ep.family === 4 ? this.#v4 : this.#v6;
    if (sock === undefined) throw new Error(`no IPv${ep.family} socket open`);
    sock.send(data, ep.port, ep.address);
  }

  async close(): Promise<void> {
    const socks = [this.#v4, this.#v6].filter((s): s is Socket => s !== undefined);
    this.#v4 = this.#v6 = undefined;
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

function toBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function listen(
  type: 'udp4' | 'udp6',
  host: string,
  port: number,
  onMessage: (msg: Buffer, rinfo: { address: string; port: number }) => void,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, ipv6Only: type === 'udp6' });
    const onError = (err: Error) => {
      s.close();
      reject(err);
    };
    s.once('error', onError);
    s.on('message', onMessage);
    s.bind(port, host, () => {
      s.off('error', onError);
      // Socket errors after binding (ICMP unreachable on some systems) must not crash the process.
      s.on('error', () => {});
      resolve(s);
    });
  });
}
