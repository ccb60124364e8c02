#!/usr/bin/env -S npx tsx --conditions=@tsnet/source
// tsnet-proxy: a tsnet node that exposes a local TCP port on the tailnet, or forwards a loopback
// port to a tailnet host:port (what people use onetun for). See cli.ts for the command line;
// SIGINT or SIGTERM resets open connections, closes the node and exits 0.
//
//   TS_AUTHKEY=tskey-auth-… npx pnpm@10.34.9 --filter @tsnet/proxy start -- expose 127.0.0.1:3000 --as :80
//   TS_AUTHKEY=tskey-auth-… npx pnpm@10.34.9 --filter @tsnet/proxy start -- forward 5432 db-node:5432
import { join } from 'node:path';
import { lineLogf } from '@tsnet/core';
import { Server, userConfigDir } from 'tsnet';
import { type ProxyCommand, parseCli, USAGE, UsageError } from './cli.js';
import { expose, forward, joinHostPort, type TailnetProxy } from './proxy.js';

async function main(): Promise<number> {
  let cmd: ProxyCommand;
  try {
    cmd = parseCli(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`tsnet-proxy: ${err.message}\n\n${USAGE}`);
    return err.exitCode;
  }
  if (cmd.mode === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const ac = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`tsnet-proxy: ${signal} again; exiting now\n`);
      process.exit(130);
    }
    ac.abort(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const { node } = cmd;
  const stderr = lineLogf((line) => process.stderr.write(line));
  const server = new Server({
    hostname: node.hostname,
    dir: node.dir ?? join(userConfigDir(), `tsnet-${node.hostname}`),
    ...(node.ephemeral ? { ephemeral: true } : {}),
    ...(node.controlUrl !== undefined ? { controlUrl: node.controlUrl } : {}),
    ...(node.listenAddress !== undefined ? { listenAddress: node.listenAddress } : {}),
    ...(node.verbose ? { logf: stderr } : {}),
  });
  let proxy: TailnetProxy | undefined;
  try {
    console.log(`tsnet-proxy: joining the tailnet as ${node.hostname}…`);
    const status = await server.up({ signal: ac.signal });
    const logf = lineLogf((line) => process.stdout.write(line));
    const name = (status.Self?.DNSName ?? '').replace(/\.$/, '') || node.hostname;
    const { ip4, ip6 } = server.tailscaleIPs();
    const ips = [ip4, ip6].filter((ip): ip is string => ip !== undefined);
    if (cmd.mode === 'expose') {
      proxy = await expose({ server, target: cmd.target, listen: cmd.listen, logf });
      const port = proxy.listenAddress.replace(/^.*:/, '');
      console.log(
        `tsnet-proxy: ${proxy.target} is on the tailnet as ${name}:${port} (${ips.map((ip) => joinHostPort(ip, Number(port))).join(', ')})`,
      );
    } else {
      proxy = await forward({ server, listen: cmd.listen, target: cmd.target, logf });
      console.log(`tsnet-proxy: ${proxy.listenAddress} → ${proxy.target} over the tailnet (as ${name})`);
    }
    console.log('Press Ctrl-C to stop.');
    if (!ac.signal.aborted) await new Promise((resolve) => ac.signal.addEventListener('abort', resolve));
    console.log(`tsnet-proxy: ${String(ac.signal.reason)}; closing`);
    return 0;
  } catch (err) {
    if (ac.signal.aborted) {
      process.stderr.write('tsnet-proxy: stopped before the node came up\n');
      return 130;
    }
    process.stderr.write(`tsnet-proxy: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await proxy?.close();
    await server.close();
    if (proxy !== undefined) {
      const s = proxy.stats;
      console.log(
        `tsnet-proxy: closed (${s.accepted} connections, ${s.failed} failed, ${s.bytesToTarget} B to the target, ${s.bytesFromTarget} B back)`,
      );
    }
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed: the process ends by itself. If something still holds it, say so.
    setTimeout(() => {
      process.stderr.write('tsnet-proxy: still running 5 s after closing; exiting\n');
      process.exit(code === 0 ? 1 : code);
    }, 5_000).unref();
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
