import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { NetstackError } from '../src/errors.js';
import type { TcpSocket } from '../src/tcp-socket.js';
import { Icmpv4Repr } from '../src/wire/icmpv4.js';
import { parseIp } from '../src/wire/ip-address.js';
import { Ipv4Repr } from '../src/wire/ipv4.js';
import { UdpRepr } from '../src/wire/udp.js';
import { A4, A6, B4, B6, runFor, runUntil, twoStacks } from './sim.js';

function collect(sock: TcpSocket) {
  const st = { data: [] as Buffer[], ended: false, closed: false, error: undefined as Error | undefined };
  sock.on('data', (d: Buffer) => st.data.push(d));
  sock.on('end', () => {
    st.ended = true;
  });
  sock.on('close', () => {
    st.closed = true;
  });
  sock.on('error', (e) => {
    st.error = e;
  });
  return st;
}

describe('Stack TCP', () => {
  for (const [fam, server, client] of [
    ['IPv4', A4, B4],
    ['IPv6', A6, B6],
  ] as const) {
    it(`echoes over ${fam} with net.Socket-like fields and an orderly close`, async () => {
      const { clock, a, b } = twoStacks();
      let accepted: TcpSocket | undefined;
      a.listen({ port: 7 }, (s) => {
        accepted = s;
        s.pipe(s);
      });
      const sock = b.connect({ host: server, port: 7 });
      let connected = false;
      sock.on('connect', () => {
        connected = true;
      });
      const st = collect(sock);
      sock.end('ping over tcp');
      await runUntil(clock, () => st.closed);
      expect(connected).toBe(true);
      expect(Buffer.concat(st.data).toString()).toBe('ping over tcp');
      expect(st.ended).toBe(true);
      expect(sock.remoteAddress).toBe(server);
      expect(sock.remotePort).toBe(7);
      expect(sock.localAddress).toBe(client);
      expect(sock.localPort).toBeGreaterThanOrEqual(49152);
      expect(sock.remoteFamily).toBe(fam);
      expect(accepted!.remoteAddress).toBe(client);
      expect(accepted!.remotePort).toBe(sock.localPort);
      // The client closed first... both ended; one side lingers in TIME-WAIT, then the table empties.
      await runFor(clock, 130_000);
      expect(a.connectionCount + b.connectionCount).toBe(0);
    });
  }

  it('connect picks an ephemeral local port for localPort 0 and refuses a bad one; address() of an all-address listener is IPv6 "::"', async () => {
    const { a, b } = twoStacks();
    const srv = a.listen({ port: 7 }, () => {});
    expect(srv.address()).toEqual({ address: '::', family: 'IPv6', port: 7 });
    const s = b.connect({ host: A4, port: 7, localPort: 0 });
    expect(s.localPort).toBeGreaterThanOrEqual(49152);
    s.destroy();
    for (const bad of [-1, 65536, 1.5]) {
      expect(() => b.connect({ host: A4, port: 7, localPort: bad })).toThrow(/localPort/);
    }
    const v4 = a.listen({ port: 8, host: A4 }, () => {});
    expect(v4.address()).toEqual({ address: A4, family: 'IPv4', port: 8 });
  });

  it('refuses a connection to a closed port with ECONNREFUSED (RST, RFC 9293 §3.10.7.1)', async () => {
    const { clock, a, b } = twoStacks();
    const sock = b.connect({ host: A4, port: 9 });
    const st = collect(sock);
    await runUntil(clock, () => st.closed);
    expect(st.error).toBeInstanceOf(NetstackError);
    expect((st.error as NetstackError).code).toBe('ECONNREFUSED');
    expect(a.counters.tcpResetsSent).toBe(1);
    expect(a.counters.dropped['no-listener']).toBe(1);
  });

  it('times out with ETIMEDOUT when nothing answers', async () => {
    const { clock, b } = twoStacks({ pipe: { faults: { loss: 1 } } });
    const sock = b.connect({ host: A4, port: 80 });
    const st = collect(sock);
    await runUntil(clock, () => st.closed, 1_000_000);
    expect((st.error as NetstackError).code).toBe('ETIMEDOUT');
  });

  it('destroy() resets the peer: ECONNRESET', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80 }, (s) => {
      s.once('data', () => s.destroy());
    });
    const sock = b.connect({ host: A4, port: 80 });
    const st = collect(sock);
    sock.write('hello');
    await runUntil(clock, () => st.closed);
    expect((st.error as NetstackError).code).toBe('ECONNRESET');
  });

  it('keeps the write side open after the peer FIN with allowHalfOpen', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80, allowHalfOpen: true }, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => s.end(`got ${Buffer.concat(chunks).length} bytes`));
    });
    const sock = b.connect({ host: A4, port: 80, allowHalfOpen: true });
    const st = collect(sock);
    sock.end(Buffer.alloc(10_000, 1));
    await runUntil(clock, () => st.closed);
    expect(Buffer.concat(st.data).toString()).toBe('got 10000 bytes');
  });

  it('applies backpressure both ways: a reader that pauses closes the window; writes wait', async () => {
    const { clock, a, b } = twoStacks({
      a: { tcp: { recvBufferSize: 65536 } },
      b: { tcp: { sendBufferSize: 65536 } },
    });
    let server: TcpSocket | undefined;
    a.listen({ port: 80 }, (s) => {
      server = s;
      s.pause();
    });
    const sock = b.connect({ host: A4, port: 80 });
    const total = 4 << 20;
    let written = 0;
    let full = false;
    const pump = () => {
      while (written < total) {
        written += 65536;
        if (!sock.write(Buffer.alloc(65536, written & 0xff))) {
          full = true;
          return;
        }
      }
      sock.end();
    };
    sock.on('drain', pump);
    pump();
    await runFor(clock, 5000);
    expect(full).toBe(true);
    // Bounded: what is stuck is the peer's receive buffer + ours + the streams' high-water marks.
    expect(written).toBeLessThan(total);
    let got = 0;
    let ended = false;
    server!.on('data', (d: Buffer) => {
      got += d.length;
    });
    server!.on('end', () => {
      ended = true;
    });
    server!.resume();
    await runUntil(clock, () => ended);
    expect(got).toBe(total);
  });

  it('emits timeout after setTimeout idle time', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80 });
    const sock = b.connect({ host: A4, port: 80 });
    let timedOut = -1;
    sock.setTimeout(1000, () => {
      timedOut = clock.now();
    });
    await runUntil(clock, () => timedOut >= 0);
    expect(timedOut).toBeGreaterThanOrEqual(1000);
    sock.destroy();
  });

  it('sends keepalive probes and fails a dead peer with ETIMEDOUT', async () => {
    const { clock, a, b, pipe } = twoStacks();
    a.listen({ port: 80 });
    const sock = b.connect({ host: A4, port: 80 });
    const st = collect(sock);
    await runUntil(clock, () => !sock.connecting);
    sock.setKeepAlive(true, 10_000);
    // Cut the wire: every packet from now on is lost, both ways.
    for (const end of [pipe.a, pipe.b])
      (end as unknown as { opts: { faults?: object } }).opts.faults = { loss: 1 };
    await runUntil(clock, () => st.closed, 2_000_000);
    expect((st.error as NetstackError).code).toBe('ETIMEDOUT');
  });

  it('bounds half-open connections per listener (SYN flood)', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80, backlog: 4 });
    // The client side never completes: drop everything a sends.
    const opts = (a.link as unknown as { opts: { faults?: object } }).opts;
    opts.faults = { loss: 1 };
    for (let i = 0; i < 10; i++) b.connect({ host: A4, port: 80 }).on('error', () => {});
    await runFor(clock, 100);
    expect(a.connectionCount).toBe(4);
    expect(a.counters.dropped['syn-queue-full']).toBe(6);
  });
});

describe('Stack ICMP and UDP', () => {
  it('answers ping on both families, both ways', async () => {
    const { clock, a, b } = twoStacks();
    const results: (number | null)[] = [];
    for (const [from, to] of [
      [a, B4],
      [a, B6],
      [b, A4],
      [b, A6],
    ] as const) {
      from.ping(to).then((r) => results.push(r));
    }
    await runUntil(clock, () => results.length === 4);
    expect(results).toEqual([10, 10, 10, 10]);
    expect(a.counters.icmpEchoRequestsIn).toBe(2);
  });

  it('exchanges UDP datagrams like dgram, and answers a closed port with ICMP', async () => {
    const { clock, a, b } = twoStacks();
    const server = a.createUdpSocket('udp6');
    server.bind(53);
    server.on('message', (msg: Buffer, rinfo) =>
      server.send(Buffer.from(`echo ${msg}`), rinfo.port, rinfo.address),
    );
    const client = b.createUdpSocket('udp6');
    const got: [string, string, number][] = [];
    client.on('message', (msg: Buffer, rinfo) => got.push([msg.toString(), rinfo.address, rinfo.port]));
    client.send('hi', 53, A6);
    client.send(Buffer.from('xxhixx'), 2, 2, 53, A6);
    client.send('nobody', 54, A6);
    await runUntil(clock, () => got.length === 2 && b.counters.icmpErrorsIn === 1);
    expect(got).toEqual([
      ['echo hi', A6, 53],
      ['echo hi', A6, 53],
    ]);
    client.close();
    server.close();
    await once(server, 'close');
  });
});

describe('Stack MSS, ICMP errors, fragments, TIME-WAIT', () => {
  it('reports ICMP port unreachable to a connected UDP socket as ECONNREFUSED, on both families', async () => {
    const { clock, b } = twoStacks();
    const errors: string[] = [];
    for (const [type, host] of [
      ['udp4', A4],
      ['udp6', A6],
    ] as const) {
      const u = b.createUdpSocket(type);
      u.connect(9999, host);
      u.on('error', (e: NodeJS.ErrnoException) => errors.push(`${type} ${e.code}`));
      u.on('connect', () => u.send('anyone there?'));
    }
    await runUntil(clock, () => errors.length === 2);
    expect(errors.sort()).toEqual(['udp4 ECONNREFUSED', 'udp6 ECONNREFUSED']);
  });

  it('derives the MSS from the link MTU: 1280 gives 1240 over IPv4 and 1220 over IPv6', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80 });
    const s4 = b.connect({ host: A4, port: 80 });
    const s6 = b.connect({ host: A6, port: 80 });
    await runUntil(clock, () => !s4.connecting && !s6.connecting);
    expect(s4.tcpInfo().mss).toBe(1240);
    expect(s6.tcpInfo().mss).toBe(1220);
    expect(s4.tcpInfo()).toMatchObject({ sack: true, timestamps: true, congestion: 'cubic' });
    expect(s4.tcpInfo().windowScale).not.toBeNull();
    s4.destroy();
    s6.destroy();
  });

  it('lowers the MSS on ICMP fragmentation-needed and refuses on port unreachable in SYN-SENT', async () => {
    const { clock, a, b, pipe } = twoStacks();
    const sent: Uint8Array[] = [];
    const orig = pipe.b.writePacket.bind(pipe.b);
    pipe.b.writePacket = (p: Uint8Array) => {
      sent.push(p.slice());
      orig(p);
    };
    // An ICMP error from the path, quoting the client's own packet `quoted`.
    const icmpFromPath = (m: Icmpv4Repr) => {
      const body = new Uint8Array(Icmpv4Repr.bufferLen(m));
      Icmpv4Repr.emit(m, body);
      const pkt = new Uint8Array(20 + body.length);
      const ip = {
        src: parseIp(A4)!,
        dst: parseIp(B4)!,
        protocol: 1,
        payloadLen: body.length,
        ttl: 64,
        ident: 1,
      };
      Ipv4Repr.emit({ ...ip, dontFrag: false, moreFrags: false, fragOffset: 0 }, pkt);
      pkt.set(body, 20);
      b.deliverPacket(pkt);
    };
    a.listen({ port: 80 });
    const sock = b.connect({ host: A4, port: 80 });
    await runUntil(clock, () => !sock.connecting);
    sent.length = 0;
    sock.write(Buffer.alloc(3000));
    await runFor(clock, 1);
    icmpFromPath({ type: 'dest-unreachable', code: 4, nextHopMtu: 1000, original: sent[0]!.subarray(0, 28) });
    expect(sock.tcpInfo().mss).toBe(960);
    sock.destroy();

    // Port unreachable while the SYN is out: ECONNREFUSED (RFC 1122 §4.2.3.9).
    (pipe.b as unknown as { opts: { faults?: object } }).opts.faults = { loss: 1 };
    sent.length = 0;
    const refused = b.connect({ host: A4, port: 81 });
    let err: NodeJS.ErrnoException | undefined;
    refused.on('error', (e) => {
      err = e;
    });
    icmpFromPath({ type: 'dest-unreachable', code: 3, nextHopMtu: 0, original: sent[0]!.subarray(0, 28) });
    await runUntil(clock, () => err !== undefined);
    expect(err?.code).toBe('ECONNREFUSED');
  });

  it('reassembles a fragmented UDP datagram (RFC 791 §3.2)', async () => {
    const { clock, a } = twoStacks();
    const got: Buffer[] = [];
    const u = a.createUdpSocket('udp4');
    u.bind(9);
    u.on('message', (m: Buffer) => got.push(m));
    const src = parseIp(B4)!;
    const dst = parseIp(A4)!;
    const payload = Buffer.alloc(3000, 0x5a);
    const udp = new Uint8Array(UdpRepr.bufferLen({ srcPort: 5, dstPort: 9, payload }));
    UdpRepr.emit({ srcPort: 5, dstPort: 9, payload }, src, dst, udp);
    // Three fragments, delivered out of order.
    const frags = [
      [0, 1232],
      [2464, udp.length],
      [1232, 2464],
    ] as const;
    for (const [s, e] of frags) {
      const p = new Uint8Array(20 + e - s);
      Ipv4Repr.emit(
        {
          src,
          dst,
          protocol: 17,
          payloadLen: e - s,
          ttl: 64,
          ident: 77,
          dontFrag: false,
          moreFrags: e !== udp.length,
          fragOffset: s,
        },
        p,
      );
      p.set(udp.subarray(s, e), 20);
      a.deliverPacket(p);
    }
    await runFor(clock, 1);
    expect(got.length).toBe(1);
    expect(got[0]!.equals(payload)).toBe(true);
    expect(a.counters.fragmentsReassembled).toBe(1);
    // The two fragments that waited were held, not dropped.
    expect(a.counters.fragmentsHeld).toBe(2);
    expect(a.counters.dropped.fragment).toBe(0);
  });

  it('an overlapping fragment drops itself and the fragments held with it, each counted (RFC 5722)', async () => {
    const { clock, a } = twoStacks();
    const src = parseIp(B4)!;
    const dst = parseIp(A4)!;
    const frag = (s: number, len: number, more: boolean) => {
      const p = new Uint8Array(20 + len);
      Ipv4Repr.emit(
        {
          src,
          dst,
          protocol: 17,
          payloadLen: len,
          ttl: 64,
          ident: 78,
          dontFrag: false,
          moreFrags: more,
          fragOffset: s,
        },
        p,
      );
      return p;
    };
    a.deliverPacket(frag(0, 1232, true));
    a.deliverPacket(frag(1232, 1232, true));
    expect(a.counters.fragmentsHeld).toBe(2);
    a.deliverPacket(frag(1224, 16, false)); // overlaps both
    await runFor(clock, 1);
    expect(a.counters.dropped.fragment).toBe(3);
    expect(a.counters.fragmentsReassembled).toBe(0);
  });

  it('lets a new SYN reuse a connection pair the server holds in TIME-WAIT (RFC 9293 §3.10.7.4)', async () => {
    const { clock, a, b } = twoStacks();
    let accepted = 0;
    // The server closes first, so the server's side of the pair sits in TIME-WAIT (§3.6).
    a.listen({ port: 80 }, (s) => {
      accepted++;
      s.resume();
      s.end('bye');
    });
    const s1 = b.connect({ host: A4, port: 80, localPort: 40000 });
    s1.resume();
    let closed = false;
    s1.on('close', () => {
      closed = true;
    });
    await runUntil(clock, () => closed && b.connectionCount === 0);
    expect(a.connectionCount).toBe(1); // TIME-WAIT on the server
    expect(b.connectionCount).toBe(0);
    const s2 = b.connect({ host: A4, port: 80, localPort: 40000 });
    s2.resume();
    await runUntil(clock, () => accepted === 2);
    expect(clock.now()).toBeLessThan(60_000); // well before TIME-WAIT would have expired
    s2.destroy();
  });
});

describe('orphaned connections', () => {
  it('a destroyed socket whose peer never closes leaves FIN-WAIT-2 after the timeout', async () => {
    const { clock, a, b } = twoStacks();
    a.listen({ port: 80, allowHalfOpen: true }, (s) => s.resume()); // never ends its side
    const sock = b.connect({ host: A4, port: 80, allowHalfOpen: true });
    sock.resume();
    sock.end('bye');
    await runUntil(clock, () => sock.tcpState === 'FIN-WAIT-2');
    sock.destroy();
    await runFor(clock, 61_000);
    expect(b.connectionCount).toBe(0);
  });
});
