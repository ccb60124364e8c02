// The client's counters and connection numbers across reconnects, against our server and a
// scripted one (real sockets).
import { NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient, emitFrame } from '../src/index.js';
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
});
