import { describe, expect, it } from 'vitest';
import { Keypair, Keypairs } from './keypair.js';

const kp = (initiator: boolean, idx: number) =>
  new Keypair(new Uint8Array(32).fill(idx), new Uint8Array(32).fill(idx), initiator, 0, idx, idx + 100);

describe('Keypairs rotation (wireguard-go BeginSymmetricSession / ReceivedWithKeypair)', () => {
  it('initiator: new keypair becomes current at once, old current becomes previous', () => {
    const k = new Keypairs();
    const a = kp(true, 1);
    expect(k.install(a)).toEqual([]);
    expect(k.current).toBe(a);
    const b = kp(true, 2);
    expect(k.install(b)).toEqual([]);
    expect([k.current, k.previous]).toEqual([b, a]);
    const c = kp(true, 3);
    expect(k.install(c)).toEqual([a]);
    expect([k.current, k.previous]).toEqual([c, b]);
  });

  it('responder: new keypair waits in next until the peer uses it', () => {
    const k = new Keypairs();
    const cur = kp(true, 1);
    const prev = kp(true, 2);
    k.current = cur;
    k.previous = prev;
    const n = kp(false, 3);
    expect(k.install(n)).toEqual([prev]);
    expect([k.current, k.previous, k.next]).toEqual([cur, undefined, n]);
    expect(k.receivedWith(cur)).toEqual({ confirmed: false, dropped: undefined });
    expect(k.receivedWith(n)).toEqual({ confirmed: true, dropped: undefined });
    expect([k.current, k.previous, k.next]).toEqual([n, cur, undefined]);
  });

  it('initiator with an unconfirmed next: next becomes previous, current is dropped', () => {
    const k = new Keypairs();
    const cur = kp(true, 1);
    const nxt = kp(false, 2);
    k.current = cur;
    k.next = nxt;
    const mine = kp(true, 3);
    expect(k.install(mine)).toEqual([cur]);
    expect([k.current, k.previous, k.next]).toEqual([mine, nxt, undefined]);
  });

  it('clear returns everything and zero() erases keys', () => {
    const k = new Keypairs();
    const a = kp(true, 1);
    k.install(a);
    expect(k.clear()).toEqual([a]);
    a.zero();
    expect(a.sendKey.every((x) => x === 0) && a.recvKey.every((x) => x === 0)).toBe(true);
  });
});
