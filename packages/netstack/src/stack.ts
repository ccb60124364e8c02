/**
 * The `Stack`: IPv4 and IPv6 on one `LinkEndpoint`, demultiplexing to TCP connections, TCP
 * listeners, UDP sockets and the ICMP echo responder. It is the driver of the sans-IO protocol
 * cores: it feeds them packets and `now`, writes what they emit, and keeps one timer (on the
 * injected clock) set to the earliest `pollAt()` among its connections.
 *
 * Inbound, in processing order: `deliverPacket` → IPv4/IPv6 header checks (RFC 791, RFC 8200;
 * fragments to the reassembler) → our address? → TCP (`tcpInput`), UDP (`udpInput`),
 * ICMP (icmp.ts). Outbound: `sendIp` writes the IP header in front of the
 * transport bytes and hands the packet to the link.
 */
import { EventEmitter } from 'node:events';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import { type DropReason, newCounters, type StackCounters } from './counters.js';
import { addrKey, connKey } from './demux-key.js';
import { NetstackError } from './errors.js';
import { Icmp } from './icmp.js';
import { Reassembler } from './ip/reassembly.js';
import type { LinkEndpoint } from './link/link.js';
import type { Logf } from './logf.js';
import { cryptoRandom32, type Random32 } from './random.js';
import { TcpConnection } from './tcp/connection.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig } from './tcp/options.js';
import { seqGt } from './tcp/seq.js';
import { TcpServer, type TcpServerOptions } from './tcp-server.js';
import { TcpSocket } from './tcp-socket.js';
import { UdpSocket, type UdpSocketType } from './udp-socket.js';
import { formatIp, ipEqual, isUnspecified, parseIp } from './wire/ip-address.js';
import { IPV4_HEADER_LEN, Ipv4Packet, Ipv4Repr } from './wire/ipv4.js';
import { IPV6_HEADER_LEN, Ipv6Packet, Ipv6Repr } from './wire/ipv6.js';
import { emptyTcpRepr, TCP_FLAG, TcpPacket, TcpRepr } from './wire/tcp.js';
import { UdpPacket, UdpRepr } from './wire/udp.js';
import { IP_PROTOCOL, isWireError } from './wire/wire-error.js';

export type { Logf };

/** Options of `new Stack(…)`: the link and our addresses are required, the rest have defaults. */
export interface StackOptions {
  /** The link the stack sends and receives IP packets on; the stack attaches to it at once. */
  link: LinkEndpoint;
  /** The stack's own addresses, IPv4 and/or IPv6 (e.g. `['100.64.0.1', 'fd7a:115c:a1e0::1']`). */
  addresses: readonly string[];
  /** Time source for TCP timers, reassembly expiry and pings (default `systemClock`). */
  clock?: Clock;
  /** Source of randomness for ISNs, timestamp offsets, ports and ICMP idents. */
  random?: Random32;
  /** Where the stack logs rare events such as a path-MTU change (default: discard). */
  logf?: Logf;
  /** TCP tunables; defaults in `DEFAULT_TCP_CONFIG` (MSS is always derived from the link MTU). */
  tcp?: Partial<Omit<TcpConfig, 'mss'>>;
  /** Upper bound on TCP connections in any state (default 4096). */
  maxConnections?: number;
  /** Answer echo requests to our addresses (default true). */
  icmpEcho?: boolean;
}

/** @internal One TCP connection's bookkeeping in the demux table. */
export interface TcpEntry {
  key: string;
  conn: TcpConnection;
  local: Uint8Array;
  remote: Uint8Array;
  localPort: number;
  remotePort: number;
  ipv6: boolean;
  socket: TcpSocket | undefined;
  /** The listener of a passive open, until the handshake completes. */
  server: TcpServer | undefined;
}

/** The parts of a connect call. */
export interface ConnectOptions {
  /** The peer's IP address, IPv4 or IPv6 (no name resolution). */
  host: string;
  /** The peer's port, 1–65535. */
  port: number;
  /** One of the stack's addresses to connect from (default: the first of the peer's family). */
  localAddress?: string;
  /** The local port (default: a random free one in 49152–65535, RFC 6056). */
  localPort?: number;
  /** Keep the writable side open after the peer's FIN (default false, as `net.connect`). */
  allowHalfOpen?: boolean;
  /** Disable Nagle's algorithm from the start (as `socket.setNoDelay()`). */
  noDelay?: boolean;
}

const EPHEMERAL_LOW = 49152;
const EPHEMERAL_HIGH = 65535;
const noop: Logf = () => {};

/**
 * A user-space TCP/IP stack on one link.
 *
 * @example
 * import { Stack, createPipe } from '@tsnet/netstack';
 * const { a, b } = createPipe();
 * const server = new Stack({ link: a, addresses: ['10.0.0.1'] });
 * const client = new Stack({ link: b, addresses: ['10.0.0.2'] });
 * server.listen({ port: 80 }, (sock) => sock.end('hello\n'));
 * client.connect({ host: '10.0.0.1', port: 80 }).on('data', (d) => console.log(String(d)));
 */
export class Stack extends EventEmitter {
  /** The link from `options.link`. */
  readonly link: LinkEndpoint;
  /** The clock all of the stack's timers run on. */
  readonly clock: Clock;
  /** Packet, TCP, UDP and ICMP counters and drops by reason; live numbers, never reset. */
  readonly counters: StackCounters = newCounters();
  /** The stack's own addresses from `options.addresses`, as 4- or 16-byte arrays. */
  readonly addresses: readonly Uint8Array[];
  /** The logger from `options.logf` (a no-op when none was given). */
  readonly logf: Logf;
  private readonly random: Random32;
  private readonly tcpConfig: TcpConfig;
  private readonly maxConnections: number;
  private readonly conns = new Map<string, TcpEntry>();
  private readonly servers = new Map<number, TcpServer[]>();
  private readonly udp = new Map<number, UdpSocket[]>();
  private readonly usedPorts = new Map<number, number>();
  private readonly reassembler: Reassembler;
  private readonly icmp: Icmp;
  private timer: TimerHandle | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private ipIdent: number;
  private closed = false;

  constructor(options: StackOptions) {
    super();
    if (!options || typeof options.link?.writePacket !== 'function') {
      throw new TypeError('options.link must be a LinkEndpoint');
    }
    if (options.link.mtu < 1280 && options.addresses.some((a) => a.includes(':'))) {
      throw new RangeError(`options.link.mtu ${options.link.mtu} is below the IPv6 minimum of 1280`);
    }
    if (options.link.mtu < 68) throw new RangeError(`options.link.mtu ${options.link.mtu} is below 68`);
    this.link = options.link;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? cryptoRandom32;
    this.logf = options.logf ?? noop;
    this.maxConnections = options.maxConnections ?? 4096;
    this.addresses = options.addresses.map((a) => {
      const b = parseIp(a);
      if (!b) throw new TypeError(`options.addresses: ${JSON.stringify(a)} is not an IP address`);
      return b;
    });
    this.tcpConfig = { ...DEFAULT_TCP_CONFIG, ...options.tcp, mss: 0 };
    this.ipIdent = this.random() & 0xffff;
    this.reassembler = new Reassembler();
    this.icmp = new Icmp({
      counters: this.counters,
      clock: this.clock,
      logf: this.logf,
      echo: options.icmpEcho ?? true,
      drop: (reason) => this.drop(reason),
      sendIp: (src, dst, protocol, len, fill) => this.sendIp(src, dst, protocol, len, fill),
      tcpEntry: (key) => this.conns.get(key),
      udpUnreachable: (_src, srcPort, dst, dstPort) =>
        (this.udp.get(srcPort) ?? []).some((u) => u._icmpUnreachable(dst, dstPort)),
    });
    this.link.attach((pkt) => this.deliverPacket(pkt));
  }

  /** MSS for a family: the link MTU minus IP and TCP headers (RFC 9293 §3.7.1, RFC 8200 §5). */
  mssFor(ipv6: boolean): number {
    return this.link.mtu - (ipv6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN) - 20;
  }

  // ---------------------------------------------------------------- public API

  /**
   * Listens for TCP connections on `port` (0 picks a free one) and optionally one `host` of ours.
   * Returns a server that emits `'connection'` with each established socket.
   */
  listen(options: TcpServerOptions, onConnection?: (socket: TcpSocket) => void): TcpServer {
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
      throw new RangeError(`options.port must be an integer in [0, 65535], got ${options.port}`);
    }
    let host: Uint8Array | null = null;
    if (
      options.host !== undefined &&
      options.host !== '' &&
      options.host !== '0.0.0.0' &&
      options.host !== '::'
    ) {
      host = this.ownAddress(options.host, 'options.host');
    }
    const port = options.port === 0 ? this.ephemeralPort() : options.port;
    const list = this.servers.get(port) ?? [];
    if (list.some((s) => s.host === null || host === null || ipEqual(s.host, host))) {
      throw new NetstackError('EADDRINUSE', 'listen', options.host ?? '::', port);
    }
    const server = new TcpServer(this, port, host, options);
    if (onConnection) server.on('connection', onConnection);
    list.push(server);
    this.servers.set(port, list);
    this.usePort(port, 1);
    return server;
  }

  /** Opens a TCP connection; returns the socket at once (it emits `'connect'` when established). */
  connect(options: ConnectOptions, onConnect?: () => void): TcpSocket {
    const remote = parseIp(options.host);
    if (!remote)
      throw new TypeError(`options.host must be an IP address, got ${JSON.stringify(options.host)}`);
    if (!Number.isInteger(options.port) || options.port <= 0 || options.port > 65535) {
      throw new RangeError(`options.port must be an integer in [1, 65535], got ${options.port}`);
    }
    const ipv6 = remote.length === 16;
    const local =
      options.localAddress !== undefined
        ? this.ownAddress(options.localAddress, 'options.localAddress')
        : this.addresses.find((a) => a.length === remote.length);
    if (!local) throw new NetstackError('EADDRNOTAVAIL', 'connect', options.host, options.port);
    const lp = options.localPort;
    if (lp !== undefined && (!Number.isInteger(lp) || lp < 0 || lp > 65535)) {
      throw new RangeError(`options.localPort must be an integer in [0, 65535], got ${lp}`);
    }
    // As net.connect: no port, or port 0, picks an ephemeral one.
    const localPort = lp === undefined || lp === 0 ? this.ephemeralPort() : lp;
    const key = connKey(local, localPort, remote, options.port);
    if (this.conns.has(key)) throw new NetstackError('EADDRINUSE', 'connect', options.host, options.port);
    const entry = this.newEntry(key, local, localPort, remote, options.port, ipv6);
    const socket = new TcpSocket(this, entry, {
      allowHalfOpen: options.allowHalfOpen ?? false,
      connecting: true,
    });
    entry.socket = socket;
    if (options.noDelay) entry.conn.noDelay = true;
    if (onConnect) socket.once('connect', onConnect);
    this.counters.tcpActiveOpens++;
    entry.conn.connect(this.clock.now());
    this.kick(entry);
    return socket;
  }

  /** Creates a UDP socket shaped like `dgram.Socket`. */
  createUdpSocket(type: UdpSocketType = 'udp4'): UdpSocket {
    return new UdpSocket(this, type);
  }

  /** Sends an ICMP echo request; resolves with the round-trip time in ms, or null on timeout. */
  ping(host: string, options: { timeoutMs?: number; data?: Uint8Array } = {}): Promise<number | null> {
    const dst = parseIp(host);
    if (!dst) throw new TypeError(`host must be an IP address, got ${JSON.stringify(host)}`);
    const src = this.addresses.find((a) => a.length === dst.length);
    if (!src) throw new NetstackError('EADDRNOTAVAIL', 'ping', host);
    return this.icmp.ping(src, dst, this.random() & 0xffff, options);
  }

  /** Number of TCP connections in the table (any state, TIME-WAIT included). */
  get connectionCount(): number {
    return this.conns.size;
  }

  /** Aborts every connection, closes every socket and stops the timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of [...this.conns.values()]) e.conn.abort();
    for (const list of [...this.servers.values()]) for (const s of list) s.close();
    for (const list of [...this.udp.values()]) for (const u of list) u.close();
    this.icmp.close();
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  // ---------------------------------------------------------------- inbound

  /** Hands the stack one inbound IP packet (what the link calls). Never throws on bad input. */
  deliverPacket(pkt: Uint8Array): void {
    if (this.closed) return;
    const c = this.counters;
    c.packetsIn++;
    c.bytesIn += pkt.length;
    const version = pkt.length > 0 ? pkt[0]! >> 4 : 0;
    if (version === 4) this.ipv4Input(pkt);
    else if (version === 6) this.ipv6Input(pkt);
    else this.drop('malformed');
  }

  private drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  private isOurs(a: Uint8Array): boolean {
    for (const x of this.addresses) if (ipEqual(x, a)) return true;
    return false;
  }

  private ipv4Input(buf: Uint8Array): void {
    const pkt = Ipv4Packet.newChecked(buf);
    if (isWireError(pkt)) {
      this.drop(pkt);
      return;
    }
    const ip = Ipv4Repr.parse(pkt);
    if (isWireError(ip)) {
      this.drop(ip);
      return;
    }
    if (!this.isOurs(ip.dst)) {
      this.drop('not-for-us');
      return;
    }
    let payload = pkt.payload;
    if (ip.moreFrags || ip.fragOffset > 0) {
      // RFC 791 §3.2 / RFC 815: reassemble before the transport sees anything.
      const r = this.reassembler.add(
        `4|${addrKey(ip.src)}|${addrKey(ip.dst)}|${ip.protocol}|${ip.ident}`,
        ip.fragOffset,
        ip.moreFrags,
        payload,
        this.clock.now(),
      );
      this._armReassembly();
      this.foldReassemblyDrops();
      if (r === 'limit') {
        this.drop('fragment-limit');
        return;
      }
      if (r === 'held') {
        this.counters.fragmentsHeld++;
        return;
      }
      if (r === null) {
        this.drop('fragment');
        return;
      }
      this.counters.fragmentsReassembled++;
      payload = r;
    }
    switch (ip.protocol) {
      case IP_PROTOCOL.TCP: {
        this.tcpInput(ip.src, ip.dst, payload, false);
        return;
      }
      case IP_PROTOCOL.UDP: {
        this.udpInput(ip.src, ip.dst, payload, buf);
        return;
      }
      case IP_PROTOCOL.ICMP: {
        this.icmp.v4Input(ip.src, ip.dst, payload);
        return;
      }
      default: {
        this.drop('unsupported');
        return;
      }
    }
  }

  private ipv6Input(buf: Uint8Array): void {
    const pkt = Ipv6Packet.newChecked(buf);
    if (isWireError(pkt)) {
      this.drop(pkt);
      return;
    }
    const ip = Ipv6Repr.parse(pkt);
    if (isWireError(ip)) {
      this.drop(ip);
      return;
    }
    if (!this.isOurs(ip.dst)) {
      this.drop('not-for-us');
      return;
    }
    let payload = pkt.buffer.subarray(ip.payloadOffset);
    if (ip.fragment) {
      const f = ip.fragment;
      // RFC 8200 §4.5: an atomic fragment (offset 0, M = 0) is processed at once.
      if (f.offset !== 0 || f.more) {
        const r = this.reassembler.add(
          `6|${addrKey(ip.src)}|${addrKey(ip.dst)}|${f.ident}`,
          f.offset,
          f.more,
          payload,
          this.clock.now(),
        );
        this._armReassembly();
        this.foldReassemblyDrops();
        if (r === 'limit') {
          this.drop('fragment-limit');
          return;
        }
        if (r === 'held') {
          this.counters.fragmentsHeld++;
          return;
        }
        if (r === null) {
          this.drop('fragment');
          return;
        }
        this.counters.fragmentsReassembled++;
        payload = r;
      }
    }
    switch (ip.nextHeader) {
      case IP_PROTOCOL.TCP: {
        this.tcpInput(ip.src, ip.dst, payload, true);
        return;
      }
      case IP_PROTOCOL.UDP: {
        this.udpInput(ip.src, ip.dst, payload, buf);
        return;
      }
      case IP_PROTOCOL.ICMPV6: {
        this.icmp.v6Input(ip.src, ip.dst, payload);
        return;
      }
      case IP_PROTOCOL.IPV6_NO_NEXT:
        return;
      default: {
        this.drop('unsupported');
        return;
      }
    }
  }

  private tcpInput(src: Uint8Array, dst: Uint8Array, bytes: Uint8Array, ipv6: boolean): void {
    const pkt = TcpPacket.newChecked(bytes);
    if (isWireError(pkt)) {
      this.drop(pkt);
      return;
    }
    const seg = TcpRepr.parse(pkt, src, dst);
    if (isWireError(seg)) {
      this.drop(seg);
      return;
    }
    this.counters.tcpSegmentsIn++;
    const now = this.clock.now();
    const key = connKey(dst, seg.dstPort, src, seg.srcPort);
    const entry = this.conns.get(key);
    const isSyn = (seg.flags & (TCP_FLAG.SYN | TCP_FLAG.ACK | TCP_FLAG.RST)) === TCP_FLAG.SYN;
    if (entry) {
      // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN above RCV.NXT may reuse a TIME-WAIT pair.
      if (!(isSyn && entry.conn.state === 'TIME-WAIT' && seqGt(seg.seq, entry.conn.rcvNxt))) {
        entry.conn.handle(seg, now);
        this.kick(entry);
        return;
      }
      entry.conn.enterClosed(null);
    }
    if (isSyn) {
      const server = this.findServer(seg.dstPort, dst);
      if (server) {
        this.passiveOpen(server, seg, src, dst, ipv6, key, now);
        return;
      }
      this.drop('no-listener');
    } else this.drop('no-socket');
    // RFC 9293 §3.10.7.1: a segment for no connection draws a RST, unless it is one.
    this.sendRstFor(seg, dst, src);
  }

  private findServer(port: number, dst: Uint8Array): TcpServer | undefined {
    const list = this.servers.get(port);
    if (!list) return undefined;
    return list.find((s) => s.host !== null && ipEqual(s.host, dst)) ?? list.find((s) => s.host === null);
  }

  /** LISTEN state (RFC 9293 §3.10.7.2): a SYN starts a half-open connection, within limits. */
  private passiveOpen(
    server: TcpServer,
    syn: TcpRepr,
    src: Uint8Array,
    dst: Uint8Array,
    ipv6: boolean,
    key: string,
    now: number,
  ): void {
    if (server.halfOpen >= server.backlog) {
      this.drop('syn-queue-full');
      return;
    }
    if (this.conns.size >= this.maxConnections) {
      this.drop('too-many-connections');
      return;
    }
    const entry = this.newEntry(key, dst.slice(), syn.dstPort, src.slice(), syn.srcPort, ipv6);
    entry.server = server;
    server.halfOpen++;
    this.counters.tcpPassiveOpens++;
    entry.conn.accept(syn, now);
    this.kick(entry);
  }

  private newEntry(
    key: string,
    local: Uint8Array,
    localPort: number,
    remote: Uint8Array,
    remotePort: number,
    ipv6: boolean,
  ): TcpEntry {
    const config: TcpConfig = { ...this.tcpConfig, mss: this.mssFor(ipv6) };
    const entry: TcpEntry = {
      key,
      conn: undefined as unknown as TcpConnection,
      local,
      remote,
      localPort,
      remotePort,
      ipv6,
      socket: undefined,
      server: undefined,
    };
    entry.conn = new TcpConnection(
      config,
      { localPort, remotePort, ipv6 },
      {
        output: (seg) => this.sendTcp(entry, seg),
        onEstablished: () => this.onEstablished(entry),
        onReadable: () => entry.socket?._onReadable(),
        onWritable: () => entry.socket?._onWritable(),
        onClosed: (err) => this.onConnClosed(entry, err),
      },
      this.random(),
      this.random(),
    );
    this.conns.set(key, entry);
    this.usePort(localPort, 1);
    return entry;
  }

  private onEstablished(entry: TcpEntry): void {
    const server = entry.server;
    if (server) {
      entry.server = undefined;
      server.halfOpen--;
      const socket = new TcpSocket(this, entry, { allowHalfOpen: server.allowHalfOpen, connecting: false });
      entry.socket = socket;
      if (server.noDelay) entry.conn.noDelay = true;
      server._deliver(socket);
    } else entry.socket?._onConnect();
  }

  private onConnClosed(entry: TcpEntry, err: 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | null): void {
    if (this.conns.get(entry.key) === entry) {
      this.conns.delete(entry.key);
      this.usePort(entry.localPort, -1);
    }
    if (entry.server) {
      entry.server.halfOpen--;
      entry.server = undefined;
    }
    entry.socket?._onClosed(err);
  }

  /** RFC 9293 §3.10.7.1: the reset for a segment that matches no connection. */
  private sendRstFor(seg: TcpRepr, local: Uint8Array, remote: Uint8Array): void {
    if (seg.flags & TCP_FLAG.RST) return;
    const r = emptyTcpRepr();
    r.srcPort = seg.dstPort;
    r.dstPort = seg.srcPort;
    if (seg.flags & TCP_FLAG.ACK) {
      r.seq = seg.ack;
      r.flags = TCP_FLAG.RST;
    } else {
      r.seq = 0;
      const len =
        seg.payload.length + (seg.flags & TCP_FLAG.SYN ? 1 : 0) + (seg.flags & TCP_FLAG.FIN ? 1 : 0);
      r.ack = (seg.seq + len) >>> 0;
      r.flags = TCP_FLAG.RST | TCP_FLAG.ACK;
    }
    this.counters.tcpResetsSent++;
    this.writeTcp(local, remote, r);
  }

  private udpInput(src: Uint8Array, dst: Uint8Array, bytes: Uint8Array, whole: Uint8Array): void {
    const pkt = UdpPacket.newChecked(bytes);
    if (isWireError(pkt)) {
      this.drop(pkt);
      return;
    }
    const u = UdpRepr.parse(pkt, src, dst);
    if (isWireError(u)) {
      this.drop(u);
      return;
    }
    const list = this.udp.get(u.dstPort);
    const sock =
      list?.find((s) => s._boundAddress !== null && ipEqual(s._boundAddress, dst)) ??
      list?.find((s) => s._boundAddress === null && s._family === (dst.length === 4 ? 4 : 6));
    if (!sock) {
      this.drop('no-socket');
      // RFC 1122 §3.2.2.1 / RFC 4443 §3.1: port unreachable, quoting the datagram.
      this.icmp.sendPortUnreachable(src, dst, whole);
      return;
    }
    this.counters.udpDatagramsIn++;
    sock._deliver(u.payload, formatIp(src), u.srcPort);
  }

  // ---------------------------------------------------------------- outbound

  /** Writes an IP packet with `bodyLen` transport bytes produced by `fill`. */
  private sendIp(
    src: Uint8Array,
    dst: Uint8Array,
    protocol: number,
    bodyLen: number,
    fill: (body: Uint8Array) => void,
  ): void {
    const v6 = src.length === 16;
    const hl = v6 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    const buf = new Uint8Array(hl + bodyLen);
    if (v6) {
      Ipv6Repr.emit(
        { src, dst, nextHeader: protocol, hopLimit: 64, payloadOffset: hl, payloadLen: bodyLen },
        buf,
      );
    } else {
      this.ipIdent = (this.ipIdent + 1) & 0xffff;
      Ipv4Repr.emit(
        {
          src,
          dst,
          protocol,
          payloadLen: bodyLen,
          ttl: 64,
          ident: this.ipIdent,
          dontFrag: true,
          moreFrags: false,
          fragOffset: 0,
        },
        buf,
      );
    }
    fill(buf.subarray(hl));
    this.counters.packetsOut++;
    this.counters.bytesOut += buf.length;
    this.link.writePacket(buf);
  }

  private writeTcp(src: Uint8Array, dst: Uint8Array, seg: TcpRepr): void {
    this.counters.tcpSegmentsOut++;
    this.sendIp(src, dst, IP_PROTOCOL.TCP, TcpRepr.bufferLen(seg), (body) =>
      TcpRepr.emit(seg, src, dst, body),
    );
  }

  private sendTcp(entry: TcpEntry, seg: TcpRepr): void {
    if (seg.flags & TCP_FLAG.RST) this.counters.tcpResetsSent++;
    this.writeTcp(entry.local, entry.remote, seg);
  }

  /** @internal Sends a UDP datagram from a socket. */
  _sendUdp(
    srcPort: number,
    src: Uint8Array | null,
    dst: Uint8Array,
    dstPort: number,
    payload: Uint8Array,
  ): void {
    const from = src ?? this.addresses.find((a) => a.length === dst.length);
    if (!from) throw new NetstackError('EADDRNOTAVAIL', 'send', formatIp(dst), dstPort);
    const hl = dst.length === 16 ? IPV6_HEADER_LEN : IPV4_HEADER_LEN;
    if (hl + 8 + payload.length > this.link.mtu) {
      throw new RangeError(`datagram of ${payload.length} bytes exceeds the link MTU ${this.link.mtu}`);
    }
    this.counters.udpDatagramsOut++;
    const u: UdpRepr = { srcPort, dstPort, payload };
    this.sendIp(from, dst, IP_PROTOCOL.UDP, UdpRepr.bufferLen(u), (b) => UdpRepr.emit(u, from, dst, b));
  }

  // ---------------------------------------------------------------- ports, timers, internals

  private ownAddress(text: string, what: string): Uint8Array {
    const a = parseIp(text);
    if (!a) throw new TypeError(`${what} must be an IP address, got ${JSON.stringify(text)}`);
    if (isUnspecified(a)) return a;
    if (!this.isOurs(a)) throw new NetstackError('EADDRNOTAVAIL', 'bind', text);
    return a;
  }

  private usePort(port: number, delta: number): void {
    const n = (this.usedPorts.get(port) ?? 0) + delta;
    if (n <= 0) this.usedPorts.delete(port);
    else this.usedPorts.set(port, n);
  }

  /** A free port in the IANA dynamic range (RFC 6335 §6), picked at random (RFC 6056). */
  private ephemeralPort(): number {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    const start = this.random() % span;
    for (let i = 0; i < span; i++) {
      const p = EPHEMERAL_LOW + ((start + i) % span);
      if (!this.usedPorts.has(p) && !this.udp.has(p)) return p;
    }
    throw new NetstackError('EADDRINUSE', 'bind');
  }

  /** @internal Removes a listener. */
  _unlisten(server: TcpServer): void {
    const list = this.servers.get(server.port);
    if (!list) return;
    const i = list.indexOf(server);
    if (i >= 0) {
      list.splice(i, 1);
      this.usePort(server.port, -1);
    }
    if (list.length === 0) this.servers.delete(server.port);
  }

  /** @internal Binds a UDP socket; returns the port. */
  _bindUdp(sock: UdpSocket, port: number, address: Uint8Array | null): number {
    const p = port === 0 ? this.ephemeralPort() : port;
    const list = this.udp.get(p) ?? [];
    if (
      list.some(
        (s) =>
          s._family === sock._family &&
          (s._boundAddress === null || address === null || ipEqual(s._boundAddress, address)),
      )
    ) {
      throw new NetstackError('EADDRINUSE', 'bind', address ? formatIp(address) : undefined, p);
    }
    list.push(sock);
    this.udp.set(p, list);
    return p;
  }

  /** @internal */
  _unbindUdp(sock: UdpSocket, port: number): void {
    const list = this.udp.get(port);
    if (!list) return;
    const i = list.indexOf(sock);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.udp.delete(port);
  }

  /** @internal Resolves a UDP socket's bind address. */
  _udpAddress(text: string): Uint8Array | null {
    const a = this.ownAddress(text, 'address');
    return isUnspecified(a) ? null : a;
  }

  /** Re-arms the stack timer if `entry` now has an earlier deadline. */
  kick(entry: TcpEntry): void {
    const at = entry.conn.pollAt();
    if (at < this.timerAt) this.arm(at);
  }

  private arm(at: number): void {
    if (this.closed) return;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.timer = this.clock.setTimeout(() => this.onTimer(), Math.max(0, at - this.clock.now()));
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (const e of [...this.conns.values()]) if (e.conn.pollAt() <= now) e.conn.onTimer(now);
    this.reassembler.expire(now);
    this.foldReassemblyDrops();
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.conns.values()) next = Math.min(next, e.conn.pollAt());
    next = Math.min(next, this.reassembler.nextExpiry());
    this.arm(next);
  }

  /** Counts the held fragments the reassembler threw away (with a bad one, or on timeout). */
  private foldReassemblyDrops(): void {
    const r = this.reassembler;
    if (r.discardedBad > 0) {
      this.counters.dropped.fragment += r.discardedBad;
      r.discardedBad = 0;
    }
    if (r.discardedTimeout > 0) {
      this.counters.dropped['fragment-timeout'] += r.discardedTimeout;
      r.discardedTimeout = 0;
    }
  }

  /** @internal Current time on the stack's clock. */
  _now(): number {
    return this.clock.now();
  }

  /** @internal Keeps the reassembly expiry on the timer. */
  _armReassembly(): void {
    const at = this.reassembler.nextExpiry();
    if (at < this.timerAt) this.arm(at);
  }
}
