// The README's first command, in two parts, every step printed with its timing; then everything
// is closed and the process exits by itself.
//
// 1. A tailnet in this process: `@tsnet/testcontrol` (control server, DERP over TLS, STUN) and two
//    tsnet nodes that register with an auth key. Node A serves `node:http` on its Tailscale IP and
//    greets callers by the name and login the netmap gives them; node B calls it over DERP, then
//    again once disco has upgraded the path to direct UDP.
// 2. The layers alone: two WireGuard `Device`s on real UDP sockets with a `netstack` stack each and
//    `node:http` on top, no control plane at all.
//
//   npm run demo                # both parts
//   npm run demo -- --status    # only the table of packages and where each stands
//
// With TS_AUTHKEY set (and TS_CONTROL_URL for a control server other than Tailscale's, such as
// headscale), the same command joins that tailnet instead and serves the hello app (apps/hello):
// `Hello, <your login>!` on http://tsnet-demo/ for every device of the tailnet, until Ctrl-C.
//
//   TS_AUTHKEY=tskey-auth-… npm run demo
//   TS_AUTHKEY=… npm run demo -- --hostname my-demo --dir ./demo-state
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { NetworkMap } from '@tsnet/control';
import { getCryptoProvider, lineLogf, NodePrivate } from '@tsnet/core';
import { describeHello, startHello } from '@tsnet/hello';
import { type LinkEndpoint, Stack } from '@tsnet/netstack';
import { TestTailnet } from '@tsnet/testcontrol';
import { Device, type TunDevice } from '@tsnet/wireguard';
import { UdpBind } from '@tsnet/wireguard/node';
import { MemoryStore, TsnetNode } from 'tsnet';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const t0 = performance.now();
const step = (msg: string) => console.log(`[${(performance.now() - t0).toFixed(0).padStart(5)} ms] ${msg}`);

function printStatus(): void {
  console.log('The packages of this workspace and where each stands:\n');
  const packagesDir = join(root, 'packages');
  for (const dir of readdirSync(packagesDir).sort()) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as {
      name: string;
    };
    const readme = readFileSync(join(packagesDir, dir, 'README.md'), 'utf8');
    const status = /\*\*Status: ([^*]+)\*\*/.exec(readme)?.[1]?.trim() ?? 'see its README';
    console.log(`  ${manifest.name.padEnd(20)} ${status}`);
  }
  console.log();
}

/** Joins a WireGuard TunDevice to a netstack LinkEndpoint: what `tsnet` does with its packet filter in between. */
function tunnelLink(mtu: number): { tun: TunDevice; link: LinkEndpoint } {
  let toStack: ((pkt: Uint8Array) => void) | undefined;
  let toDevice: ((pkt: Uint8Array) => void) | undefined;
  return {
    link: {
      mtu,
      writePacket: (pkt) => toDevice?.(pkt),
      attach: (deliver) => {
        toStack = deliver;
      },
    },
    tun: {
      open: (onPacket) => {
        toDevice = onPacket;
      },
      write: (pkt) => toStack?.(pkt),
      close: () => {},
    },
  };
}

/** GET `path` over an already-open stream (node:http uses `createConnection` only when no agent is given). */
function httpGet(path: string, host: string, socket: () => import('node:stream').Duplex): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const req = http.get(
      // The .invalid host is a second guard: if the request ever left the process, it could not resolve.
      { host: 'demo.invalid', headers: { host }, path, createConnection: socket as never },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(`${res.statusCode} ${text.trim()}`));
      },
    );
    req.setTimeout(15_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** Who is behind a Tailscale IP, from the netmap: what WhoIs answers. */
function whoIs(nm: NetworkMap | undefined, ip: string): string {
  for (const peer of nm?.peerTable.sorted((n) => n.ID) ?? []) {
    if (peer.Addresses?.some((p) => String(p).split('/')[0] === ip)) {
      const user = nm?.userProfiles.get(Number(peer.User));
      return `${String(peer.Name ?? '?').replace(/\.$/, '')} (${user?.LoginName ?? 'unknown user'})`;
    }
  }
  return 'a stranger';
}

function describePath(node: TsnetNode, ip: string): string {
  const p = node.peerPath(ip);
  if (p === undefined) return 'no path';
  return p.trusted && p.direct !== undefined ? `direct UDP ${p.direct}` : `DERP region ${p.derpRegion}`;
}

async function tailnetDemo(): Promise<void> {
  console.log('Part 1: a tailnet in this process (control + DERP + two tsnet nodes)\n');
  const tailnet = await TestTailnet.start();
  step(`control server ${tailnet.controlURL}, DERP ${tailnet.derpURL}, STUN udp ${tailnet.stunPort}`);
  const authKey = tailnet.createAuthKey({ reusable: true });
  // Start DERP-only, as Tailscale's TS_DEBUG_ALWAYS_USE_DERP does, to show the relay path first.
  const a = new TsnetNode({
    controlUrl: tailnet.controlURL,
    authKey,
    hostname: 'alpha',
    listenAddress: '127.0.0.1',
    disableDirect: true,
  });
  const b = new TsnetNode({
    controlUrl: tailnet.controlURL,
    authKey,
    hostname: 'beta',
    listenAddress: '127.0.0.1',
    disableDirect: true,
  });
  try {
    await Promise.all([a.up(), b.up()]);
    const ipA = String(a.addresses[0]);
    const ipB = String(b.addresses[0]);
    step(`alpha is up at ${a.addresses.join(', ')}`);
    step(`beta is up at ${b.addresses.join(', ')}`);

    const server = http.createServer((req, res) => {
      const caller = req.socket.remoteAddress ?? '';
      res.end(`Hello, ${whoIs(a.netmap, caller)}! (from ${caller}:${req.socket.remotePort})`);
    });
    a.listen(80, (socket) => server.emit('connection', socket));
    step(`alpha: node:http listening on ${ipA}:80 (tailnet only)`);

    const first = await b.dial('alpha', 80);
    step(`beta: GET http://alpha/ → ${await httpGet('/', 'alpha', () => first)}`);
    step(`beta → alpha path: ${describePath(b, ipA)}`);

    a.magicsock.setDirectEnabled(true);
    b.magicsock.setDirectEnabled(true);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(b.peerPath(ipA)?.trusted ?? false)) {
      await new Promise((r) => setTimeout(r, 100));
    }
    step(`disco: beta → alpha path is now ${describePath(b, ipA)}`);
    const second = await b.dial(ipA, 80);
    step(`beta: GET http://${ipA}/ → ${await httpGet('/', ipA, () => second)}`);
    const pathB = b.peerPath(ipA);
    if (pathB !== undefined) {
      step(
        `beta → alpha packets: ${pathB.txDerp} sent via DERP, ${pathB.txDirect} direct; alpha sees beta as ${ipB}`,
      );
    }
    server.close();
  } finally {
    await Promise.all([a.close(), b.close()]);
    await tailnet.close();
  }
  step('closed both nodes and the tailnet\n');
}

async function node(name: string, address: string) {
  const key = NodePrivate.generate();
  const bind = new UdpBind({ host4: '127.0.0.1', host6: false });
  const { tun, link } = tunnelLink(1280);
  const device = new Device({ privateKey: key.raw, bind, tun, mtu: 1280 });
  await device.up();
  const stack = new Stack({ link, addresses: [address] });
  step(
    `${name}: WireGuard on udp 127.0.0.1:${bind.port}, tunnel address ${address}, key ${key.public().toString().slice(0, 20)}…`,
  );
  return { name, key, bind, device, stack, address };
}

const USAGE = `usage: npm run demo [-- options]

Without TS_AUTHKEY: a tailnet in this process, then the layers alone; exits by itself.
With TS_AUTHKEY (and TS_CONTROL_URL for headscale or another control server): joins that tailnet
and serves the hello app until Ctrl-C.

options:
  --status             only the table of packages and where each stands
  --hostname NAME      the node's name on your tailnet (default tsnet-demo; with TS_AUTHKEY)
  --dir DIR            keep the node's state in DIR (default: in memory, and the node is ephemeral)
  --ephemeral          with --dir: register as an ephemeral node all the same
  --listen-address IP  the address of the node's UDP socket (default 0.0.0.0)
`;

type DemoFlags = ReturnType<typeof parseFlags>['values'];

function parseFlags() {
  return parseArgs({
    options: {
      status: { type: 'boolean' },
      hostname: { type: 'string' },
      dir: { type: 'string' },
      ephemeral: { type: 'boolean' },
      'listen-address': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

/**
 * TS_AUTHKEY is set: join that tailnet and serve the hello app (Go tsnet's README examples) until
 * SIGINT or SIGTERM. Ephemeral with its state in memory unless --dir is given, so a try leaves
 * nothing behind: no file, and no device in the admin console once it stops.
 */
async function realTailnetDemo(flags: DemoFlags): Promise<void> {
  const hostname = flags.hostname ?? 'tsnet-demo';
  const inMemory = flags.dir === undefined;
  const ephemeral = inMemory || flags.ephemeral === true;
  const ac = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    console.log(`TS_AUTHKEY is set: joining that tailnet as ${hostname} and serving the hello app.\n`);
    const hello = await startHello({
      hostname,
      ...(flags.dir !== undefined ? { dir: flags.dir } : { store: new MemoryStore() }),
      ...(ephemeral ? { ephemeral: true } : {}),
      ...(flags['listen-address'] !== undefined ? { listenAddress: flags['listen-address'] } : {}),
      userLogf: lineLogf((line) => process.stdout.write(`  [tsnet] ${line}`)),
      accessLogf: lineLogf((line) => step(line.trimEnd())),
      signal: ac.signal,
    });
    step(`control server ${hello.server.controlUrl}`);
    step(`${hostname} is up`);
    for (const line of describeHello(hello)) console.log(`  ${line}`);
    console.log(
      `\nEach caller is greeted by the login name WhoIs gives (a tagged device is "tagged-devices").\n` +
        `${ephemeral ? 'The node is ephemeral: it leaves the tailnet when the demo stops. ' : ''}Press Ctrl-C to stop.\n`,
    );
    if (!ac.signal.aborted) await new Promise((resolve) => ac.signal.addEventListener('abort', resolve));
    step(`${String(ac.signal.reason)}: closing`);
    await hello.close();
    step(`closed ${hostname}${ephemeral ? ' (logged out, so the tailnet forgets it)' : ''}`);
  } catch (err) {
    if (!ac.signal.aborted) throw err;
    step('stopped before the node came up');
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

async function main(): Promise<void> {
  const flags = parseFlags().values;
  if (flags.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  console.log('tsnet for TypeScript: an embedded Tailscale node for Node.js\n');
  if (process.env.TS_AUTHKEY !== undefined && process.env.TS_AUTHKEY !== '' && flags.status !== true) {
    await realTailnetDemo(flags);
    return;
  }
  printStatus();
  if (flags.status === true) return;

  await tailnetDemo();
  console.log('Part 2: the layers alone (WireGuard + netstack + node:http, no control plane)\n');
  step(`crypto backend: ${getCryptoProvider().name}`);
  const a = await node('node A', '10.77.0.1');
  const b = await node('node B', '10.77.0.2');
  a.device.addPeer({
    publicKey: b.key.public().raw,
    endpoint: `127.0.0.1:${b.bind.port}`,
    allowedIps: ['10.77.0.2/32'],
  });
  b.device.addPeer({
    publicKey: a.key.public().raw,
    endpoint: `127.0.0.1:${a.bind.port}`,
    allowedIps: ['10.77.0.1/32'],
  });

  const server = http.createServer((req, res) => {
    const s = req.socket;
    res.end(`Hello from node A, ${s.remoteAddress}:${s.remotePort}! You asked for ${req.url}\n`);
  });
  a.stack.listen({ port: 80 }, (socket) => server.emit('connection', socket));
  step('node A: node:http server listening on 10.77.0.1:80 (inside the tunnel)');

  const rtt = await b.stack.ping(a.address, { timeoutMs: 5000 });
  step(
    `node B: ping 10.77.0.1 → ${rtt === null ? 'no reply' : `${rtt.toFixed(1)} ms (the first one includes the WireGuard handshake)`}`,
  );

  const body = await httpGet('/demo', a.address, () => b.stack.connect({ host: a.address, port: 80 }));
  step(`node B: GET http://10.77.0.1/demo → ${body}`);

  const stats = b.device.peers()[0];
  if (stats !== undefined) {
    step(`node B: wg show → endpoint ${stats.endpoint}, rx ${stats.rxBytes} B, tx ${stats.txBytes} B`);
  }

  for (const n of [a, b]) {
    n.stack.close();
    await n.device.close();
  }
  server.close();
  step('closed both nodes');
  console.log(
    '\nTo put a node on your own tailnet and serve the hello app there:\n' +
      '  TS_AUTHKEY=tskey-auth-… npm run demo   (TS_CONTROL_URL=… for headscale)',
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
