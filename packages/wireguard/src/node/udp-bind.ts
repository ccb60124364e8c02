/**
 * A `Bind` on `node:dgram` UDP sockets: one IPv4 socket and (unless disabled) one IPv6-only socket
 * on the same port, as wireguard-go's `conn.StdNetBind` opens. Endpoints are text: `1.2.3.4:51820`
 * or `[2001:db8::1]:51820`; incoming datagrams are reported in the same form.
 *
 * A host name endpoint (`vpn.example.com:51820`, as configuration files often have) is resolved
 * once with `dns.lookup` (IPv4 first when the IPv4 socket is open) on first use; datagrams sent
 * meanwhile wait (at most 16). A name that does not resolve makes later sends throw, which the
 * device counts (`txErrors`) and logs.
 */
import { createSocket, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns/promises';
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
  /** Resolves a host name endpoint to an address of `family` (default: `dns.lookup`). */
  lookup?: ((hostname: string, family: 4 | 6) => Promise<string>) | undefined;
}

const defaultLookup = async (hostname: string, family: 4 | 6): Promise<string> =>
  (await dnsLookup(hostname, { family })).address;

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

const HOSTNAME_ENDPOINT = /^([A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9-]{1,63})*\.?):([0-9]{1,5})$/;
const MAX_WAITING = 16;

export class UdpBind implements Bind {
  readonly #opts: UdpBindOptions;
  readonly #resolving = new Map<Endpoint, Uint8Array[]>();
  readonly #unresolvable = new Map<Endpoint, string>();
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
      if (ep === null && this.#resolveLater(data, to)) return;
      if (this.#cache.size > 4096) this.#cache.clear();
      this.#cache.set(to, ep);
    }
    if (ep === null) throw new TypeError(`endpoint is not ip:port or [ipv6]:port: ${to}`);
    const sock = ep.family === 4 ? this.#v4 : this.#v6;
    if (sock === undefined) throw new Error(`no IPv${ep.family} socket open`);
    sock.send(data, ep.port, ep.address);
  }

  /** Host name endpoints: queue `data` and resolve; false if `to` is not `name:port` at all. */
  #resolveLater(data: Uint8Array, to: Endpoint): boolean {
    const m = HOSTNAME_ENDPOINT.exec(to);
    const port = m === null ? 0 : Number(m[2]);
    if (m === null || port < 1 || port > 65535) return false;
    const failed = this.#unresolvable.get(to);
    if (failed !== undefined) throw new Error(`cannot resolve ${to}: ${failed}`);
    const waiting = this.#resolving.get(to);
    if (waiting !== undefined) {
      if (waiting.length < MAX_WAITING) waiting.push(data);
      return true;
    }
    this.#resolving.set(to, [data]);
    const host = m[1]!;
    const families: (4 | 6)[] = this.#v4 !== undefined ? [4, 6] : [6];
    const lookup = this.#opts.lookup ?? defaultLookup;
    const attempt = (i: number): void => {
      const family = families[i]!;
      lookup(host, family).then(
        (address) => {
          const queued = this.#resolving.get(to) ?? [];
          this.#resolving.delete(to);
          this.#cache.set(to, { family, address, port });
          for (const d of queued) {
            try {
              this.send(d, to);
            } catch (sendErr) {
              // The socket closed while resolving: the datagrams are lost, like any UDP datagram.
              this.#unresolvable.set(to, String(sendErr));
            }
          }
        },
        (err: unknown) => {
          if (i + 1 < families.length) {
            attempt(i + 1);
            return;
          }
          this.#resolving.delete(to);
          this.#unresolvable.set(to, err instanceof Error ? err.message : String(err));
        },
      );
    };
    attempt(0);
    return true;
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
