/**
 * Prints a tailnet's netmap as it changes: the README quick start as a script.
 *
 *   CONTROL_URL=http://127.0.0.1:8080 TS_AUTHKEY=hskey-auth-… \
 *     npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source packages/control/examples/watch-netmap.ts
 *
 * Without TS_AUTHKEY it prints the interactive login URL and waits. ONCE=1 exits after the first
 * netmap.
 */
import { MachinePrivate } from '@tsnet/core';
import { ControlClient, peers } from '../src/index.js';

const print = (line: string) => process.stdout.write(`${line}\n`);

const client = new ControlClient({
  serverURL: process.env.CONTROL_URL ?? 'http://127.0.0.1:8080',
  machineKey: MachinePrivate.generate(),
  ...(process.env.TS_AUTHKEY ? { authKey: process.env.TS_AUTHKEY } : {}),
  hostinfo: { Hostname: 'netmap-watcher' },
});
client.on('state', (_state, { authURL }: { authURL?: string }) => {
  if (authURL) print(`log in at ${authURL}`);
});
process.once('SIGINT', () => void client.close());

await client.register();
for await (const nm of client.watchNetmap()) {
  print(`self ${nm.self?.Name} ${nm.self?.Addresses?.join(' ')}`);
  for (const p of peers(nm)) {
    print(`  ${p.Name} ${p.Addresses?.join(' ')} online=${p.Online} derp=${p.HomeDERP ?? '-'}`);
  }
  if (process.env.ONCE === '1') break;
}
await client.close();
