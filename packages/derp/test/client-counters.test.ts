// The client's counters and connection numbers across reconnects, against our server and a
// scripted one (real sockets).
import { FakeClock, NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient, DerpServer, emitFrame } from '../src/index.js';
import { until } from './helpers.js';
import { scriptedDerpServer } from './scripted-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('DerpClient counters', () => {
  it('framesSkipped accumulates across reconnects (it restarted at 0 on each connection)', async () => {
    // Each connection gets one frame of an unknown type and a KeepAlive; the first two are then closed.
    const srv = await scriptedDerpServer({
      handshake: true,
      onConnection: (sock) => {
        const frames = Buffer.concat([
          emitFrame({ type: 'Unknown', frameType: 0x42, payload: new Uint8Array(3) }),
          emitFrame({ type: 'KeepAlive' }),
        ]);
        if (srv.accepted < 3) sock.end(frames);
        else sock.write(frames);
      },
    });
    cleanups.push(() => srv.close());
    const c = new DerpClient({ privateKey: NodePrivate.generate(), url: srv.url, random: () => 0.5 });
    cleanups.push(() => c.close());
    await c.connect();
    await until('three connections', () => c.counters.keepAlivesReceived === 3);
    expect(c.counters.disconnects).toBe(2);
    expect(c.counters.framesSkipped).toBe(3);
  });

  it('a handshake the server refuses is a failure, not a connection: connects and generation advance at ServerInfo', async () => {
    // Refused twice after ServerKey (admission), then admitted.
    let asked = 0;
    const server = new DerpServer({ admit: () => ++asked > 2 });
    const { url } = await server.listen();
    cleanups.push(() => server.close());
    const clock = new FakeClock();
    const c = new DerpClient({ privateKey: NodePrivate.generate(), url, clock, random: () => 0.5 });
    cleanups.push(() => c.close());
    const generations: number[] = [];
    c.on('connected', (info) => generations.push(info.generation));
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(c.counters).toMatchObject({ connects: 0, connectFailures: 1 });
    expect(c.generation).toBe(0);
    clock.advance(10);
    await until('the second refusal', () => c.counters.connectFailures === 2);
    // A refused handshake backs off like any failure: 2² × 10 ms before the third attempt.
    clock.advance(39);
    await new Promise((r) => setTimeout(r, 30));
    expect(asked).toBe(2);
    clock.advance(1);
    await until('connected', () => generations.length === 1);
    expect(generations).toEqual([1]);
    expect(c.generation).toBe(1);
    expect(c.counters).toMatchObject({ connects: 1, connectFailures: 2, disconnects: 0 });
  });
});
