// The client's timers on a fake clock (real sockets): Tailscale's backoff schedule, the read
// timeout that declares a silent server dead, the grace close() gives the server.

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { FakeClock, NodePrivate } from '@tsnet/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DerpClient, DerpServer } from '../src/index.js';
import { nextEvent, until } from './helpers.js';
import { scriptedDerpServer } from './scripted-server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('DerpClient timers', () => {
  it('retries on n² × 10 ms (jitter 0.5–1.5×), capped', async () => {
    const clock = new FakeClock();
    const port = await closedPort();
    const c = new DerpClient({
      privateKey: NodePrivate.generate(),
      url: `http://127.0.0.1:${port}/derp`,
      clock,
      random: () => 0.5, // jitter factor exactly 1
      maxBackoffMs: 50,
    });
    cleanups.push(() => c.close());
    await expect(c.connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(c.state).toBe('waiting');
    for (const [n, delay] of [
      [1, 10],
      [2, 40],
      [3, 50], // 90 capped at 50
      [4, 50],
    ] as const) {
      clock.advance(delay - 1);
      await new Promise((r) => setTimeout(r, 20));
      expect(c.counters.connectFailures).toBe(n);
      clock.advance(1);
      await until(`attempt ${n + 1}`, () => c.counters.connectFailures === n + 1);
    }
  });

  it('a server silent for readTimeoutMs is declared dead and the client reconnects', async () => {
    const clock = new FakeClock();
    const server = new DerpServer({ keepAliveMs: 3_600_000 });
    const { url } = await server.listen();
    cleanups.push(() => server.close());
    const c = new DerpClient({
      privateKey: NodePrivate.generate(),
      url,
      clock,
      readTimeoutMs: 5000,
      random: () => 0.5,
    });
    cleanups.push(() => c.close());
    await c.connect();
    const down = nextEvent<[Error]>(c, 'disconnected');
    clock.advance(4999);
    await new Promise((r) => setTimeout(r, 20));
    expect(c.state).toBe('connected');
    clock.advance(1);
    const [err] = await down;
    expect(err).toMatchObject({ code: 'ETIMEDOUT' });
    clock.advance(10);
    await until('reconnected', () => c.generation === 2);
  });

  it('close() waits 1 s on the injected clock for a server that never finishes the close (it used the real clock)', async () => {
    const clock = new FakeClock();
    const srv = await scriptedDerpServer({ handshake: true, holdClose: true, onConnection: () => {} });
    cleanups.push(() => srv.close());
    const c = new DerpClient({ privateKey: NodePrivate.generate(), url: srv.url, clock });
    await c.connect();
    let closed = false;
    void c.close().then(() => {
      closed = true;
    });
    clock.advance(999);
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    clock.advance(1);
    await until('closed', () => closed, 500);
  });
});
