// RACK's ACK scan stops early when nothing is SACKed and only in-order original transmissions
// remain (an O(newly acked) ACK instead of a scan of every record in flight). Property: with the
// same sends, retransmissions and ACKs, it reaches exactly the state of a full scan, which a
// scoreboard holding one block beyond everything sent forces (that block delivers nothing).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../random.js';
import { Rack } from './rack.js';
import { SackScoreboard } from './sack.js';

function state(r: Rack) {
  return {
    xmitTs: r.xmitTs,
    endSeq: r.endSeq,
    rtt: r.rtt,
    minRtt: r.minRtt,
    reorderingSeen: r.reorderingSeen,
    lost: [...r.lost],
    timerAt: r.timerAt,
  };
}

describe('Rack.onAck early stop', () => {
  it('matches a full scan over random sends, retransmissions and cumulative ACKs', () => {
    const ops = { send: 0, rtx: 0, ack: 0, delivered: 0 };
    for (let seed = 1; seed <= 40; seed++) {
      const r32 = seededRandom(seed);
      const rnd = () => r32() / 2 ** 32;
      const fast = new Rack();
      const full = new Rack();
      const empty = new SackScoreboard();
      const far = new SackScoreboard();
      const FAR = 1_000_000_000;
      far.update([FAR, FAR + 10], 0, FAR + 10);
      let now = 0;
      let una = 1000;
      let nxt = 1000;
      for (let step = 0; step < 400; step++) {
        now += Math.floor(rnd() * 5);
        const op = rnd();
        if (op < 0.5) {
          const len = 100 + Math.floor(rnd() * 1100);
          fast.onSend(nxt, nxt + len, now, false);
          full.onSend(nxt, nxt + len, now, false);
          nxt += len;
          ops.send++;
        } else if (op < 0.65 && nxt > una) {
          const s = una + Math.floor(rnd() * (nxt - una));
          const e = Math.min(nxt, s + 100 + Math.floor(rnd() * 2000));
          fast.onSend(s, e, now, true);
          full.onSend(s, e, now, true);
          ops.rtx++;
        } else {
          una += Math.floor(rnd() * (nxt - una + 1));
          const tsNow = (t: number) => t;
          fast.onAck(una, empty, now, undefined, tsNow, -1);
          full.onAck(una, far, now, undefined, tsNow, -1);
          fast.detectLoss(now, false, 10);
          full.detectLoss(now, false, 10);
          fast.prune(una, empty);
          full.prune(una, far);
          expect(state(fast)).toEqual(state(full));
          ops.ack++;
          if (fast.xmitTs !== Number.NEGATIVE_INFINITY) ops.delivered++;
        }
      }
    }
    // Not vacuous: every kind of step happened many times.
    expect(Math.min(ops.send, ops.rtx, ops.ack, ops.delivered)).toBeGreaterThan(1000);
  });
});
