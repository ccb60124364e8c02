/**
 * The command line of `tsnet-proxy`, parsed without side effects (main.ts runs it):
 *
 *   tsnet-proxy expose <local host:port | port> [--as <[tailscale ip]:port>] [node options]
 *   tsnet-proxy forward <[127.0.0.1:]port> <tailnet host:port> [node options]
 */
import { parseArgs } from 'node:util';

/** The node options every mode takes. */
export interface NodeFlags {
  /** The node's name on the tailnet. */
  hostname: string;
  /** Where its state lives (undefined: main.ts picks `<user config dir>/tsnet-<hostname>`). */
  dir: string | undefined;
  /** Register as an ephemeral node. */
  ephemeral: boolean;
  /** The control server (undefined: `TS_CONTROL_URL`, else Tailscale's). */
  controlUrl: string | undefined;
  /** The address of the node's UDP socket (undefined: all addresses). */
  listenAddress: string | undefined;
  /** The node's backend logs on stderr. */
  verbose: boolean;
}

/** What the command line asked for. */
export type ProxyCommand =
  | { readonly mode: 'help' }
  | { readonly mode: 'expose'; readonly target: string; readonly listen: string; readonly node: NodeFlags }
  | { readonly mode: 'forward'; readonly listen: string; readonly target: string; readonly node: NodeFlags };

/** A command line that does not parse; the message says why (main.ts prints it with the usage). */
export class UsageError extends Error {
  /** The process exit status for a usage error. */
  readonly exitCode = 2;
}

/** The default host name of the proxy's node. */
export const PROXY_DEFAULT_HOSTNAME = 'tsnet-proxy';

/** `tsnet-proxy --help`. */
export const USAGE = `usage:
  tsnet-proxy expose <local host:port | port> [--as <[tailscale ip]:port>] [options]
      Makes a local TCP service a port of this node on the tailnet.
      --as defaults to the same port: 'expose 3000' serves 127.0.0.1:3000 as :3000.
  tsnet-proxy forward <[127.0.0.1:]port> <tailnet host:port> [options]
      Listens on a loopback port and carries each connection to a tailnet host:port.

examples:
  TS_AUTHKEY=tskey-auth-… tsnet-proxy expose 127.0.0.1:3000 --as :80 --hostname devbox
  TS_AUTHKEY=tskey-auth-… tsnet-proxy forward 127.0.0.1:5432 db-node:5432

options:
  --hostname NAME      the node's name on the tailnet (default ${PROXY_DEFAULT_HOSTNAME})
  --dir DIR            where the node's state lives (default <user config dir>/tsnet-<hostname>)
  --ephemeral          register as an ephemeral node (removed from the tailnet after it stops)
  --control-url URL    the control server (default $TS_CONTROL_URL, else Tailscale's)
  --listen-address IP  the address of the node's UDP socket for WireGuard (default 0.0.0.0)
  -v, --verbose        the node's backend logs on stderr
  -h, --help           this text

environment:
  TS_AUTHKEY           an auth key (without one, and without saved state, a login URL is printed)
  TS_CONTROL_URL       the control server (e.g. a headscale URL)

Each connection is logged when it opens and closes, with its bytes. SIGINT or SIGTERM resets
open connections, closes the node and exits 0.
`;

/** Parses `argv` (without `node` and the script). Throws `UsageError`. */
export function parseCli(argv: readonly string[]): ProxyCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { mode: 'help' };
  const node: NodeFlags = {
    hostname: values.hostname ?? PROXY_DEFAULT_HOSTNAME,
    dir: values.dir,
    ephemeral: values.ephemeral === true,
    controlUrl: values['control-url'],
    listenAddress: values['listen-address'],
    verbose: values.verbose === true,
  };
  const [mode, ...rest] = positionals;
  switch (mode) {
    case 'expose': {
      const [target, extra] = rest;
      if (target === undefined) throw new UsageError('expose: which local service? e.g. 127.0.0.1:3000');
      if (extra !== undefined) throw new UsageError(`expose: unexpected argument ${JSON.stringify(extra)}`);
      const port = /(?:^|:)(\d+)$/.exec(target)?.[1];
      if (port === undefined)
        throw new UsageError(`expose: ${JSON.stringify(target)} is not host:port or a port`);
      const as = values.as ?? `:${port}`;
      return { mode, target, listen: /^\d+$/.test(as) ? `:${as}` : as, node };
    }
    case 'forward': {
      if (values.as !== undefined) throw new UsageError('forward: --as is for expose');
      const [listen, target, extra] = rest;
      if (listen === undefined || target === undefined) {
        throw new UsageError(
          'forward: give the local port and the tailnet host:port, e.g. 127.0.0.1:5432 db:5432',
        );
      }
      if (extra !== undefined) throw new UsageError(`forward: unexpected argument ${JSON.stringify(extra)}`);
      return { mode, listen, target, node };
    }
    case undefined:
      throw new UsageError('expose or forward?');
    default:
      throw new UsageError(`unknown mode ${JSON.stringify(mode)}: expose or forward`);
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      as: { type: 'string' },
      hostname: { type: 'string' },
      dir: { type: 'string' },
      ephemeral: { type: 'boolean' },
      'control-url': { type: 'string' },
      'listen-address': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
}
