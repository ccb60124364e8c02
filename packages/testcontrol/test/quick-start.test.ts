// The README's quick start, verbatim: a user's own test of "my app", with TestTailnet.
import { ControlClient, peers } from '@tsnet/control';
import { MachinePrivate } from '@tsnet/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestTailnet } from '../src/index.js';

let tailnet: TestTailnet;
beforeAll(async () => {
  tailnet = await TestTailnet.start();
});
afterAll(() => tailnet.close());

/** "My app": a node that joins a tailnet and reports the names of its peers. */
async function myApp(controlURL: string, authKey: string, hostname: string) {
  const c = new ControlClient({
    serverURL: controlURL,
    machineKey: MachinePrivate.generate(),
    authKey,
    hostinfo: { Hostname: hostname },
  });
  await c.register();
  c.start();
  return {
    async peerNames(want: number): Promise<string[]> {
      for await (const nm of c.watchNetmap()) {
        if (peers(nm).length >= want) return peers(nm).map((p) => p.Name ?? '');
      }
      return [];
    },
    close: () => c.close(),
  };
}

it('my app sees the other nodes of its tailnet by MagicDNS name', async () => {
  const authKey = tailnet.createAuthKey({ reusable: true, ephemeral: true });
  const a = await myApp(tailnet.controlURL, authKey, 'app');
  const b = await myApp(tailnet.controlURL, authKey, 'worker');
  expect(await a.peerNames(1)).toEqual(['worker.tailnet.test.']);
  await tailnet.waitForNode((n) => n.hostname === 'worker' && n.online);
  tailnet.expireNode('worker'); // what does my app do when a peer expires? test it here.
  await b.close();
  await a.close();
});
