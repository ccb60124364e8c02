/** Test helpers: @tsnet/control's ControlClient as the client of a TestTailnet. */
import { ControlClient, type ControlClientOptions, type NetworkMap, peers } from '@tsnet/control';
import { MachinePrivate } from '@tsnet/core';
import type { TestTailnet } from '../src/index.js';

export interface TestClient {
  client: ControlClient;
  /** The latest netmap (updated as they come). */
  latest(): NetworkMap | undefined;
  /** Waits until `pred(netmap)` holds (bounded). */
  until<T>(pred: (nm: NetworkMap) => T | undefined | false, ms?: number): Promise<T>;
  close(): Promise<void>;
}

export function newClient(
  tailnet: TestTailnet,
  hostname: string,
  opts: Partial<ControlClientOptions> = {},
): TestClient {
  const client = new ControlClient({
    serverURL: tailnet.controlURL,
    machineKey: MachinePrivate.generate(),
    hostinfo: { Hostname: hostname },
    ...opts,
  });
  let nm: NetworkMap | undefined;
  const waiters = new Set<() => void>();
  client.on('netmap', (m: NetworkMap) => {
    nm = m;
    for (const w of [...waiters]) w();
  });
  return {
    client,
    latest: () => nm,
    until<T>(pred: (nm: NetworkMap) => T | undefined | false, ms = 10_000): Promise<T> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (nm === undefined) return;
          const v = pred(nm);
          if (v !== undefined && v !== false) {
            cleanup();
            resolve(v);
          }
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${hostname}: netmap condition not met within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    close: () => client.close(),
  };
}

/** Registers with `authKey` and starts the map poll. */
export async function join(
  tailnet: TestTailnet,
  hostname: string,
  authKey: string,
  opts: Partial<ControlClientOptions> = {},
) {
  const c = newClient(tailnet, hostname, { authKey, ...opts });
  await c.client.register();
  c.client.start();
  await c.until((nm) => nm.self !== undefined);
  return c;
}

/** The hostnames of a netmap's peers, sorted. */
export function peerNames(nm: NetworkMap): string[] {
  return peers(nm)
    .map((p) => p.Hostinfo?.Hostname ?? '')
    .sort();
}
