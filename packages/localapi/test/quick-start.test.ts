// The README's second quick start, as written: a node serves the LocalAPI over its own backend (here a
// netmap from the test fixture) on a unix socket, and a LocalClient asks it who is calling.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  createLocalApiHandler,
  type LocalBackend,
  LocalClient,
  PeerNotFoundError,
  statusFromNetmap,
  whoIsInNetmap,
} from '../src/index.js';
import { SAMPLE_PREFS, sampleNetmap } from './fixture.js';

it('README quick start: serve a LocalAPI over a netmap, ask it with LocalClient', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-localapi-qs-'));
  const netmap = sampleNetmap(); // in a node: the current netmap from @tsnet/control
  // --- from the README ---
  const backend: LocalBackend = {
    whoIs: (addr, opts) => whoIsInNetmap(netmap, addr.addr, opts),
    whoIsNodeKey: (key, opts) => whoIsInNetmap(netmap, key, opts),
    status: ({ peers }) =>
      statusFromNetmap(netmap, { version: '1.102.3-tsnet', backendState: 'Running', peers }),
    prefs: () => SAMPLE_PREFS,
  };
  const server = createServer(createLocalApiHandler({ backend }));
  await new Promise<void>((r) => server.listen(join(dir, 'localapi.sock'), r));

  const lc = new LocalClient({ socketPath: join(dir, 'localapi.sock') });
  const who = await lc.whoIs('100.64.0.2');
  const greeting = `Hello, ${who.UserProfile.LoginName}!`; // "Hello, alice@example.com!"
  const caps = who.CapMap?.['example.com/cap/web']; // [{ role: 'admin' }]
  const notFound = await lc.whoIs('100.64.0.99').catch((e: unknown) => e instanceof PeerNotFoundError);
  // --- end ---
  expect(greeting).toBe('Hello, alice@example.com!');
  expect(caps).toEqual([{ role: 'admin' }]);
  expect(notFound).toBe(true);
  expect(Object.keys((await lc.status()).Peer ?? {})).toHaveLength(2);

  // The same answers in process, without a socket.
  const inProcess = new LocalClient({ backend });
  expect((await inProcess.whoIs('100.64.0.2')).UserProfile.LoginName).toBe('alice@example.com');
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});
