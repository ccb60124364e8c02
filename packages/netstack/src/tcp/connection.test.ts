import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.js';
import { seededRandom } from '../random.js';
import { TCP_FLAG, TcpPacket, TcpRepr } from '../wire/tcp.js';
import { isWireError } from '../wire/wire-error.js';
import { TcpConnection } from './connection.js';
import { DEFAULT_TCP_CONFIG, type TcpConfig, type TcpErrorCode } from './options.js';

const A = new Uint8Array([10, 0, 0, 1]);
const B = new Uint8Array([10, 0, 0, 2]);

interface Side {
  conn: TcpConnection;
  sent: TcpRepr[];
  received: Uint8Array[];
  closed: TcpErrorCode | null | undefined;
  established: boolean;
}

/** Two connections joined by a wire with a delay and a drop filter, on a fake clock. */
function pair(
  opts: {
    client?: Partial<TcpConfig>;
    server?: Partial<TcpConfig>;
    delay?: number;
    drop?: (seg: TcpRepr, from: 'a' | 'b') => boolean;
  } = {},
) {
  const clock = new FakeClock();
  const delay = opts.delay ?? 5;
  const sides: { a?: Side; b?: Side } = {};
  const timers = new Map<TcpConnection, unknown>();
  const schedule = (c: TcpConnection) => {
    const at = c.pollAt();
    const old = timers.get(c);
    if (old) clock.clearTimeout(old as object);
    if (at !== Number.POSITIVE_INFINITY) {
      timers.set(
        c,
        clock.setTimeout(() => {
          timers.delete(c);
          c.onTimer(clock.now());
          schedule(c);
        }, at - clock.now()),
      );
    }
  };
  const make = (
    name: 'a' | 'b',
    cfg: Partial<TcpConfig>,
    src: Uint8Array,
    dst: Uint8Array,
    lp: number,
    rp: number,
    iss: number,
  ) => {
    const side: Side = {
      conn: undefined as unknown as TcpConnection,
      sent: [],
      received: [],
      closed: undefined,
      established: false,
    };
    side.conn = new TcpConnection(
      { ...DEFAULT_TCP_CONFIG, ...cfg },
      { localPort: lp, remotePort: rp, ipv6: false },
      {
        output: (seg) => {
          const buf = new Uint8Array(TcpRepr.bufferLen(seg));
          TcpRepr.emit(seg, src, dst, buf);
          const parsed = TcpRepr.parse(TcpPacket.newChecked(buf) as TcpPacket, src, dst);
          if (isWireError(parsed)) throw new Error(parsed);
          side.sent.push(parsed);
          if (opts.drop?.(parsed, name)) return;
          clock.setTimeout(() => {
            const peer = name === 'a' ? sides.b! : sides.a!;
            if (
              peer.conn.state === 'LISTEN' ||
              (peer.conn.state === 'CLOSED' &&
                !peer.established &&
                name === 'a' &&
                (parsed.flags & TCP_FLAG.SYN) !== 0)
            ) {
              peer.conn.accept(parsed, clock.now());
            } else peer.conn.handle(parsed, clock.now());
            schedule(peer.conn);
          }, delay);
        },
        onEstablished: () => {
          side.established = true;
        },
        onReadable: () => {
          const d = side.conn.read(1 << 30, clock.now());
          if (d.length > 0) side.received.push(d);
          schedule(side.conn);
        },
        onWritable: () => {},
        onClosed: (e) => {
          side.closed = e;
        },
      },
      iss,
      iss * 7,
    );
    return side;
  };
  sides.a = make('a', opts.client ?? {}, A, B, 40000, 80, 0xfffff000);
  sides.b = make('b', opts.server ?? {}, B, A, 80, 40000, 1000);
  const a = sides.a;
  const b = sides.b;
  const run = (until: () => boolean, maxMs = 600_000) => {
    const start = clock.now();
    while (!until() && clock.now() - start < maxMs) {
      schedule(a.conn);
      schedule(b.conn);
      if (!clock.runNext()) break;
    }
  };
  return { clock, a, b, run, schedule };
}

const cat = (xs: Uint8Array[]) => Buffer.concat(xs);

describe('TcpConnection handshake', () => {
  it('completes a three-way handshake with every option negotiated', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    expect(a.conn.state).toBe('ESTABLISHED');
    expect(b.conn.state).toBe('ESTABLISHED');
    const syn = a.sent[0]!;
    expect(syn.flags).toBe(TCP_FLAG.SYN);
    expect([syn.mss, syn.windowShift, syn.sackPermitted, syn.tsVal !== undefined]).toEqual([
      1240,
      5,
      true,
      true,
    ]);
    const synAck = b.sent[0]!;
    expect(synAck.flags).toBe(TCP_FLAG.SYN | TCP_FLAG.ACK);
    expect(synAck.ack).toBe((syn.seq + 1) >>> 0);
    expect([a.conn.wsOk, a.conn.sackOk, a.conn.tsOk, b.conn.wsOk, b.conn.sackOk, b.conn.tsOk]).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(a.conn.sndMss).toBe(1240);
  });

  it('leaves options off when the peer does not offer them', () => {
    const { a, b, run, clock } = pair({ client: { sack: false, timestamps: false, windowScaling: false } });
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    expect([b.conn.wsOk, b.conn.sackOk, b.conn.tsOk]).toEqual([false, false, false]);
    const synAck = b.sent[0]!;
    expect([synAck.windowShift, synAck.sackPermitted, synAck.tsVal]).toEqual([undefined, false, undefined]);
  });

  it('retransmits a lost SYN after the initial RTO (RFC 6298 §2.1)', () => {
    let dropped = 0;
    const { a, b, run, clock } = pair({
      drop: (s, from) => from === 'a' && (s.flags & TCP_FLAG.SYN) !== 0 && dropped++ === 0,
    });
    a.conn.connect(clock.now());
    run(() => b.established);
    expect(a.sent.filter((s) => s.flags === TCP_FLAG.SYN).length).toBe(2);
    expect(clock.now()).toBeGreaterThanOrEqual(1000);
  });

  it('fails with ETIMEDOUT after the SYN retries', () => {
    const { a, run, clock } = pair({ drop: () => true });
    a.conn.connect(clock.now());
    run(() => a.closed !== undefined, 1e7);
    expect(a.closed).toBe('ETIMEDOUT');
    expect(a.sent.length).toBe(7);
  });

  it('simultaneous open reaches ESTABLISHED on both sides (RFC 9293 §3.5 Figure 8)', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    b.conn.connect(clock.now());
    run(() => a.established && b.established);
    expect([a.conn.state, b.conn.state]).toEqual(['ESTABLISHED', 'ESTABLISHED']);
  });
});

describe('TcpConnection data and close', () => {
  it('transfers data both ways and closes with FIN, TIME-WAIT on the active closer', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    a.conn.send(Buffer.from('hello'), clock.now());
    b.conn.send(Buffer.from('world'), clock.now());
    run(() => a.received.length > 0 && b.received.length > 0);
    expect(cat(b.received).toString()).toBe('hello');
    expect(cat(a.received).toString()).toBe('world');
    a.conn.close(clock.now());
    run(() => b.conn.state === 'CLOSE-WAIT');
    expect(b.conn.eof).toBe(true);
    b.conn.close(clock.now());
    run(() => b.conn.state === 'CLOSED');
    expect(a.conn.state).toBe('TIME-WAIT');
    run(() => a.conn.state === 'CLOSED', 120_000);
    expect([a.closed, b.closed]).toEqual([null, null]);
  });

  it('simultaneous close goes through CLOSING (RFC 9293 §3.6 Figure 13)', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    a.conn.close(clock.now());
    b.conn.close(clock.now());
    const states = new Set<string>();
    run(() => {
      states.add(a.conn.state);
      return a.conn.state === 'TIME-WAIT' && b.conn.state === 'TIME-WAIT';
    });
    expect(states.has('CLOSING')).toBe(true);
  });

  for (const [name, cfg] of [
    ['SACK + timestamps', {}],
    ['no SACK (NewReno recovery)', { sack: false }],
    ['no timestamps (Karn RTT)', { timestamps: false }],
    ['NewReno', { congestion: 'newreno' as const }],
  ] as const) {
    it(`moves 2 MB intact through 5% loss: ${name}`, () => {
      const rnd = seededRandom(42);
      const { a, b, run, clock } = pair({ client: cfg, server: cfg, drop: () => rnd() % 100 < 5 });
      a.conn.connect(clock.now());
      run(() => a.established && b.established);
      const data = new Uint8Array(2 << 20);
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
      let off = 0;
      run(() => {
        off += a.conn.send(data.subarray(off), clock.now());
        if (off === data.length && !a.conn.finQueued) a.conn.close(clock.now());
        return b.conn.eof;
      }, 3_600_000);
      const got = cat(b.received);
      expect(got.length).toBe(data.length);
      expect(createHash('sha256').update(got).digest('hex')).toBe(
        createHash('sha256').update(data).digest('hex'),
      );
    });
  }
});

describe('TcpConnection RST rules', () => {
  it('answers an in-window RST that is not exact with a challenge ACK (RFC 5961 §3.2)', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    const before = a.sent.length;
    const rst = {
      ...b.sent[b.sent.length - 1]!,
      flags: TCP_FLAG.RST,
      seq: (a.conn.rcvNxt + 10) >>> 0,
      tsVal: undefined,
      tsEcr: undefined,
    };
    a.conn.handle(rst, clock.now());
    expect(a.conn.state).toBe('ESTABLISHED');
    expect(a.sent.length).toBe(before + 1);
    expect(a.sent[before]!.flags).toBe(TCP_FLAG.ACK);
    a.conn.handle({ ...rst, seq: a.conn.rcvNxt }, clock.now());
    expect(a.conn.state).toBe('CLOSED');
    expect(a.closed).toBe('ECONNRESET');
  });

  it('answers a SYN in ESTABLISHED with a challenge ACK (RFC 5961 §4.2)', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    const before = b.sent.length;
    b.conn.handle({ ...a.sent[0]! }, clock.now());
    expect(b.conn.state).toBe('ESTABLISHED');
    expect(b.sent[before]!.flags).toBe(TCP_FLAG.ACK);
  });

  it('reports ECONNREFUSED on RST+ACK in SYN-SENT', () => {
    const { a, clock } = pair({ drop: () => true });
    a.conn.connect(clock.now());
    const syn = a.sent[0]!;
    a.conn.handle(
      {
        ...syn,
        srcPort: 80,
        dstPort: 40000,
        seq: 0,
        ack: (syn.seq + 1) >>> 0,
        flags: TCP_FLAG.RST | TCP_FLAG.ACK,
      },
      clock.now(),
    );
    expect(a.closed).toBe('ECONNREFUSED');
  });

  it('abort() sends RST', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    a.conn.abort();
    expect(a.sent[a.sent.length - 1]!.flags & TCP_FLAG.RST).toBeTruthy();
    run(() => b.closed !== undefined);
    expect(b.closed).toBe('ECONNRESET');
  });
});

describe('TcpConnection flow control', () => {
  it('probes a zero window and resumes when the reader drains (RFC 9293 §3.8.6.1)', () => {
    const { a, b, run, clock } = pair({ server: { recvBufferSize: 16384 } });
    // The server's app does not read: replace onReadable with a no-op.
    (b.conn.hooks as { onReadable: () => void }).onReadable = () => {};
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    const data = new Uint8Array(100_000);
    let off = a.conn.send(data, clock.now());
    run(() => b.conn.readable === 16384);
    run(() => false, 10_000);
    expect(a.conn.sndWnd).toBe(0);
    expect(a.conn.persistAt).toBeLessThan(Number.POSITIVE_INFINITY);
    let got = 0;
    run(() => {
      got += b.conn.read(1 << 20, clock.now()).length;
      off += a.conn.send(data.subarray(off), clock.now());
      return got === data.length;
    }, 600_000);
    expect(got).toBe(data.length);
  });
});

describe('RACK-TLP (RFC 8985)', () => {
  const data = new Uint8Array(300_000).map((_, i) => i & 0xff);
  function bulk(drop: (seg: TcpRepr, sender: TcpConnection) => boolean, cfg: Partial<TcpConfig> = {}) {
    const p: { a?: Side } = {};
    const { a, b, run, clock } = pair({
      client: cfg,
      server: cfg,
      drop: (s, from) => from === 'a' && drop(s, p.a!.conn),
    });
    p.a = a;
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    let off = 0;
    run(() => {
      off += a.conn.send(data.subarray(off), clock.now());
      if (off === data.length && !a.conn.finQueued) a.conn.close(clock.now());
      return b.conn.eof;
    });
    expect(cat(b.received).equals(Buffer.from(data))).toBe(true);
    return a.conn.stats;
  }

  it('recovers a lost retransmission without waiting for the RTO', () => {
    let target = -1;
    let copies = 0;
    const stats = bulk((s) => {
      if (s.payload.length === 0) return false;
      if (target < 0 && (s.seq - a0) >>> 0 > 100_000) target = s.seq;
      // Drop the original and the first retransmission of one segment.
      return s.seq === target && copies++ < 2;
    });
    expect(copies).toBeGreaterThanOrEqual(3);
    expect(stats.rtos).toBe(0);
  });

  it('the same loss without RACK needs an RTO', () => {
    let target = -1;
    let copies = 0;
    const stats = bulk(
      (s) => {
        if (s.payload.length === 0) return false;
        if (target < 0 && (s.seq - a0) >>> 0 > 100_000) target = s.seq;
        return s.seq === target && copies++ < 2;
      },
      { rack: false },
    );
    expect(stats.rtos).toBeGreaterThan(0);
  });

  it('a lost tail is repaired by a tail loss probe, not an RTO', () => {
    let dropped = 0;
    const stats = bulk((s, sender) => {
      const start = (s.seq - a0) >>> 0;
      // Drop the first transmission (new data: seq = SND.MAX) of the last two segments' worth.
      if (s.payload.length === 0 || start < data.length - 2 * 1228 || s.seq !== sender.sndMax) return false;
      dropped++;
      return true;
    });
    expect(dropped).toBeGreaterThanOrEqual(2);
    expect(stats.tlps).toBeGreaterThan(0);
    expect(stats.rtos).toBe(0);
  });
});

/** The client's ISS in `pair()` plus one: the first data byte's sequence number. */
const a0 = (0xfffff000 + 1) >>> 0;

describe('TcpConnection ACK and Nagle timing', () => {
  it('delays the ACK of a lone segment by delayedAckMs, and ACKs every second segment at once (RFC 9293 §3.8.6.3)', () => {
    const { a, b, run, clock } = pair({ delay: 5 });
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    // The first read opens the window past the SYN's unscaled 64 KiB and is announced at once.
    a.conn.send(Buffer.from('w'), clock.now());
    run(() => b.received.length > 0);
    run(() => false, 100);
    const before = b.sent.length;
    const t0 = clock.now();
    a.conn.send(Buffer.from('x'), clock.now());
    run(() => b.sent.length > before);
    // Arrives at t0 + 5; ACK leaves 40 ms later.
    expect(clock.now() - t0).toBe(5 + 40);
    const mid = b.sent.length;
    a.conn.setNoDelay(true, clock.now());
    a.conn.send(new Uint8Array(1240 * 2), clock.now());
    const t1 = clock.now();
    run(() => b.sent.length > mid);
    expect(clock.now() - t1).toBe(5);
  });

  it('Nagle holds a small segment while data is unacknowledged; setNoDelay sends it at once (RFC 9293 §3.7.4)', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    const dataSegs = () => a.sent.filter((s) => s.payload.length > 0).length;
    a.conn.send(Buffer.from('a'), clock.now());
    a.conn.send(Buffer.from('b'), clock.now());
    expect(dataSegs()).toBe(1); // 'b' waits for the ACK of 'a'
    run(() => cat(b.received).toString() === 'ab');
    expect(dataSegs()).toBe(2);
    a.conn.setNoDelay(true, clock.now());
    a.conn.send(Buffer.from('c'), clock.now());
    a.conn.send(Buffer.from('d'), clock.now());
    expect(dataSegs()).toBe(4);
  });

  it('drops an old timestamp (PAWS, RFC 7323 §5) and answers with an ACK', () => {
    const { a, b, run, clock } = pair();
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    a.conn.send(Buffer.from('fresh'), clock.now());
    run(() => b.received.length > 0);
    const last = a.sent[a.sent.length - 1]!;
    const before = b.sent.length;
    b.conn.handle(
      { ...last, tsVal: (last.tsVal! - 1000) >>> 0, payload: Buffer.from('stale'), seq: a.conn.sndNxt },
      clock.now(),
    );
    expect(b.conn.readable).toBe(0);
    expect(b.sent.length).toBe(before + 1);
  });
});

describe('receive-window auto-tuning', () => {
  it('starts small, grows with what the app drains, and stays within the buffer bound', () => {
    const { a, b, run, clock } = pair({ server: { recvBufferSize: 4 << 20 } });
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    expect(b.conn.rcvSpace).toBe(128 * 1024);
    const data = new Uint8Array(8 << 20);
    let off = 0;
    let maxWnd = 0;
    run(() => {
      off += a.conn.send(data.subarray(off), clock.now());
      maxWnd = Math.max(maxWnd, a.conn.sndWnd);
      return cat(b.received).length === data.length;
    });
    expect(b.conn.rcvSpace).toBeGreaterThan(128 * 1024);
    expect(b.conn.rcvSpace).toBeLessThanOrEqual(4 << 20);
    expect(maxWnd).toBeGreaterThan(128 * 1024);
  });

  it('a reader that never reads holds at most the initial target, not the whole buffer', () => {
    const { a, b, run, clock } = pair({ server: { recvBufferSize: 4 << 20 } });
    (b.conn.hooks as { onReadable: () => void }).onReadable = () => {};
    a.conn.connect(clock.now());
    run(() => a.established && b.established);
    const data = new Uint8Array(1 << 20);
    let off = 0;
    run(() => {
      off += a.conn.send(data.subarray(off), clock.now());
      return false;
    }, 5_000);
    expect(b.conn.readable).toBeLessThanOrEqual(128 * 1024);
    expect(b.conn.readable).toBeGreaterThan(100 * 1024);
  });
});

describe('SYN-RECEIVED', () => {
  it('answers a retransmitted SYN with the SYN-ACK at once', () => {
    let dropped = 0;
    const { a, b, run, clock } = pair({
      drop: (s, from) => from === 'b' && (s.flags & TCP_FLAG.SYN) !== 0 && dropped++ === 0,
    });
    a.conn.connect(clock.now());
    run(() => b.conn.state === 'SYN-RECEIVED');
    // The client's own RTO (1 s) retransmits the SYN; the server answers it without waiting for its own.
    run(() => a.established && b.established);
    expect(b.sent.filter((s) => s.flags === (TCP_FLAG.SYN | TCP_FLAG.ACK)).length).toBeGreaterThanOrEqual(2);
    expect(clock.now()).toBeLessThan(1100);
  });
});
