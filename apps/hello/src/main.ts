#!/usr/bin/env -S npx tsx --conditions=@tsnet/source
// tsnet-hello: Go tsnet's README examples as a command. Joins the tailnet named by TS_AUTHKEY
// (and TS_CONTROL_URL, default Tailscale's), serves `Hello, <LoginName>!` on tailnet port 80 and
// stops on SIGINT or SIGTERM. Without a key it prints a login URL to open in a browser.
//
//   TS_AUTHKEY=tskey-auth-… npx pnpm@10.34.9 --filter @tsnet/hello start
//   TS_AUTHKEY=… pnpm --filter @tsnet/hello start -- --hostname greeter --dir ./state --port 8080
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { lineLogf } from '@tsnet/core';
import { userConfigDir } from 'tsnet';
import { describeHello, HELLO_DEFAULT_HOSTNAME, HELLO_DEFAULT_PORT, startHello } from './hello.js';

const USAGE = `usage: tsnet-hello [options]

Serves "Hello, <LoginName>!" on the tailnet, greeting each caller by the login name WhoIs gives.

options:
  --hostname NAME      the node's name on the tailnet (default ${HELLO_DEFAULT_HOSTNAME})
  --dir DIR            where the node's state lives (default <user config dir>/tsnet-<hostname>)
  --port N             the tailnet port to serve (default ${HELLO_DEFAULT_PORT})
  --ephemeral          register as an ephemeral node (removed from the tailnet after it stops)
  --control-url URL    the control server (default $TS_CONTROL_URL, else Tailscale's)
  --listen-address IP  the address of the node's UDP socket for WireGuard (default 0.0.0.0)
  -v, --verbose        the node's backend logs on stderr
  -h, --help           this text

environment:
  TS_AUTHKEY           an auth key (without one, and without saved state, a login URL is printed)
  TS_CONTROL_URL       the control server (e.g. a headscale URL)
`;

async function main(): Promise<number> {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse().values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const hostname = values.hostname ?? HELLO_DEFAULT_HOSTNAME;
  const port = values.port !== undefined ? Number(values.port) : HELLO_DEFAULT_PORT;
  const stderr = lineLogf((line) => process.stderr.write(line));
  const ac = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      process.stderr.write(`tsnet-hello: ${signal} again; exiting now\n`);
      process.exit(130);
    }
    ac.abort(signal);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  console.log(`tsnet-hello: joining the tailnet as ${hostname}…`);
  let hello: Awaited<ReturnType<typeof startHello>>;
  try {
    hello = await startHello({
      hostname,
      port,
      dir: values.dir ?? join(userConfigDir(), `tsnet-${hostname}`),
      ...(values.ephemeral === true ? { ephemeral: true } : {}),
      ...(values['control-url'] !== undefined ? { controlUrl: values['control-url'] } : {}),
      ...(values['listen-address'] !== undefined ? { listenAddress: values['listen-address'] } : {}),
      ...(values.verbose === true ? { logf: stderr } : {}),
      accessLogf: lineLogf((line) => process.stdout.write(line)),
      signal: ac.signal,
    });
  } catch (err) {
    if (ac.signal.aborted) {
      process.stderr.write('tsnet-hello: stopped before the node came up\n');
      return 130;
    }
    process.stderr.write(`tsnet-hello: ${(err as Error).message}\n`);
    return 1;
  }
  for (const line of describeHello(hello)) console.log(line);
  console.log('Press Ctrl-C to stop.');
  if (!ac.signal.aborted) await new Promise((resolve) => ac.signal.addEventListener('abort', resolve));
  console.log(`tsnet-hello: ${String(ac.signal.reason)}; closing`);
  await hello.close();
  console.log('tsnet-hello: closed');
  return 0;
}

function parse() {
  return parseArgs({
    options: {
      hostname: { type: 'string' },
      dir: { type: 'string' },
      port: { type: 'string' },
      ephemeral: { type: 'boolean' },
      'control-url': { type: 'string' },
      'listen-address': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything is closed: the process ends by itself. If something still holds it, say so.
    setTimeout(() => {
      process.stderr.write('tsnet-hello: still running 5 s after closing; exiting\n');
      process.exit(code === 0 ? 1 : code);
    }, 5_000).unref();
  },
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
