// The README's first command. Until the `tsnet` Server exists, it runs the layers that do: two
// user-space nodes in this process, each a WireGuard `Device` (real UDP sockets on 127.0.0.1) with
// a `netstack` TCP/IP stack on its tunnel side, and unchanged `node:http` on top. Every step is
// printed with its timing; then everything is closed and the process exits by itself.
//
//   npm run demo                # the in-process demo
//   npm run demo -- --status    # only the table of packages and where each stands
import { readdirSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import { type LinkEndpoint, Stack } from '@tsnet/netstack';
import { Device, type TunDevice } from '@tsnet/wireguard';
import { UdpBind } from '@tsnet/wireguard/node';

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
    link: { mtu, writePacket: (pkt) => toDevice?.(pkt), attach: (deliver) => (toStack = deliver) },
    tun: { open: (onPacket) => void (toDevice = onPacket), write: (pkt) => toStack?.(pkt), close: () => {} },
  };
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

async function main(): Promise<void> {
  console.log('tsnet for TypeScript: an embedded Tailscale node for Node.js (work in progress)\n');
  printStatus();
  if (process.argv.includes('--status')) return;

  console.log('Live: two user-space nodes in this process (WireGuard + netstack + node:http)\n');
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

  const body = await new Promise<string>((resolve, reject) => {
    const req = http.get(
      {
        // Node uses createConnection only when no agent is given (agent: false makes a fresh Agent
        // that ignores it and dials through the OS). The .invalid host is a second guard: if the
        // request ever left the process, it could not resolve.
        host: 'node-a.invalid',
        headers: { host: a.address },
        path: '/demo',
        createConnection: () => b.stack.connect({ host: a.address, port: 80 }) as never,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve(`${res.statusCode} ${text.trim()}`));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
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
  console.log('\nThe tailnet demo (control, DERP, WhoIs) arrives with the tsnet Server: see the README.');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
