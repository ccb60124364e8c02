/**
 * Regression: RACK's reordering window never grew (RFC 8985 §6.2 step 4 was done without its
 * D-SACK part), so against Linux through a link that delays 95% of packets by 20 ms and lets 5%
 * through at once, our sender took every overtaken segment for lost: 3245 retransmissions for
 * about 170 real losses (docs/benchmarks.md, "Against Linux"). Linux reports each such duplicate
 * with a D-SACK block (RFC 2883); those now widen the window by min_RTT/4 once per round trip.
 */
import { describe, expect, it } from 'vitest';
import { isDsack } from '../src/tcp/connection.js';
import { Rack } from '../src/tcp/rack.js';
import { SackScoreboard } from '../src/tcp/sack.js';

describe('D-SACK detection (RFC 2883 §4)', () => {
  it('a first block at or below the cumulative ACK is a D-SACK', () => {
    expect(isDsack([1000, 2000], 2000)).toBe(true);
    expect(isDsack([1000, 2000, 5000, 6000], 3000)).toBe(true);
  });
  it('a first block inside the second block is a D-SACK', () => {
    expect(isDsack([5000, 6000, 4000, 8000], 3000)).toBe(true);
  });
  it('ordinary SACK blocks are not', () => {
    expect(isDsack([], 3000)).toBe(false);
    expect(isDsack([5000, 6000], 3000)).toBe(false);
    expect(isDsack([5000, 6000, 8000, 9000], 3000)).toBe(false);
    expect(isDsack([2000, 6000], 3000)).toBe(false); // straddles SND.UNA: new data SACKed
  });
  it('works across sequence-number wrap-around', () => {
    expect(isDsack([0xffff_ff00, 0x10], 0x20)).toBe(true);
  });
});

describe('RACK reordering window grows with D-SACK (RFC 8985 §6.2 step 4)', () => {
  /** A Rack with min_RTT = 4 ms and reordering seen. */
  function rack(): Rack {
    const r = new Rack();
    const sb = new SackScoreboard();
    r.onSend(0, 1000, 0, false);
    r.onAck(1000, sb, 4, undefined, (t) => t, -1);
    r.reorderingSeen = true;
    return r;
  }

  it('starts at min_RTT/4', () => {
    expect(rack().reoWnd(false, 40)).toBe(1);
  });

  it('grows by min_RTT/4 once per round trip of D-SACKs, capped at SRTT', () => {
    const r = rack();
    r.onDsack(1000, 5000);
    expect(r.reoWnd(false, 40)).toBe(2);
    r.onDsack(2000, 5000); // same round (SND.UNA has not passed 5000): no growth
    expect(r.reoWnd(false, 40)).toBe(2);
    r.onDsack(5000, 9000); // next round
    expect(r.reoWnd(false, 40)).toBe(3);
    for (let i = 0; i < 100; i++) r.onDsack(9000 + i * 10_000, 19_000 + i * 10_000);
    expect(r.reoWnd(false, 40)).toBe(40);
  });

  it('falls back to min_RTT/4 after 16 recoveries without a D-SACK', () => {
    const r = rack();
    r.onDsack(1000, 5000);
    r.onDsack(5000, 9000);
    for (let i = 0; i < 15; i++) r.onRecoveryExit();
    expect(r.reoWnd(false, 40)).toBe(3);
    r.onRecoveryExit();
    expect(r.reoWnd(false, 40)).toBe(1);
  });

  it('a segment overtaken by less than the widened window is not marked lost', () => {
    const r = rack();
    const sb = new SackScoreboard();
    for (let i = 0; i < 8; i++) r.onDsack(1000 + i * 10_000, 11_000 + i * 10_000); // window 9 × 1 ms
    // Segment A [1000, 2000) sent at 100, B [2000, 3000) at 101; B is SACKed at 106 (RTT 5 ms)
    // while A, delayed, has not arrived: 106 − 100 = 6 ms < RTT 5 + window 9 → not lost yet.
    r.onSend(1000, 2000, 100, false);
    r.onSend(2000, 3000, 101, false);
    sb.update([2000, 3000], 1000, 3000);
    r.onAck(1000, sb, 106, undefined, (t) => t, -1);
    expect(r.detectLoss(106, false, 40)).toBe(false);
    expect(r.timerAt).toBeGreaterThan(106);
    // Without the D-SACK history the window would be 1 ms, and A lost at 106.
    const plain = rack();
    plain.onSend(1000, 2000, 100, false);
    plain.onSend(2000, 3000, 101, false);
    plain.onAck(1000, sb, 106, undefined, (t) => t, -1);
    expect(plain.detectLoss(106, false, 40)).toBe(true);
  });
});
