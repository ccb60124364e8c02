/**
 * The hello app: the two examples of Go tsnet's README, "Usage" and "Identifying callers", as one
 * program. A `Server` joins the tailnet (the auth key from `authKey` or `TS_AUTHKEY`, the control
 * server from `controlUrl` or `TS_CONTROL_URL`: the Server's own precedence), listens on tailnet
 * port 80, and `node:http` answers every request with `Hello, <LoginName>!`, the login name that
 * `localClient().whoIs(remoteAddr)` gives for the caller (`tagged-devices` for a tagged node, as
 * Tailscale shows them).
 *
 * Read `startHello` first; `main.ts` is the command line around it. The Go original:
 *
 * ```go
 * s := &tsnet.Server{Hostname: "my-service", AuthKey: os.Getenv("TS_AUTHKEY")}
 * defer s.Close()
 * ln, _ := s.Listen("tcp", ":80")
 * lc, _ := s.LocalClient()
 * http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
 *   who, err := lc.WhoIs(r.Context(), r.RemoteAddr)
 *   if err != nil { http.Error(w, err.Error(), 500); return }
 *   fmt.Fprintf(w, "Hello, %s!", who.UserProfile.LoginName)
 * }))
 * ```
 */
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logf } from '@tsnet/core';
import { Server, type ServerOptions } from 'tsnet';

/** What `Server.localClient()` resolves to: the LocalAPI in process (WhoIs, status). */
export type HelloLocalClient = Awaited<ReturnType<Server['localClient']>>;

/** What `Server.up()` resolves to: the node's status (`ipnstate.Status`). */
export type HelloStatus = Awaited<ReturnType<Server['up']>>;

/** The host name `startHello` gives the node unless `hostname` says otherwise. */
export const HELLO_DEFAULT_HOSTNAME = 'hello';

/** The tailnet port `startHello` serves on unless `port` says otherwise. */
export const HELLO_DEFAULT_PORT = 80;

/** How long `close()` waits for open connections to finish their FIN exchange before dropping them. */
const CLOSE_GRACE_MS = 2_000;

/** Options of `startHello`: every `Server` option, plus where to serve and how long to wait. */
export interface HelloOptions extends ServerOptions {
  /** The TCP port on the node's Tailscale addresses (default 80). */
  port?: number;
  /** Give up joining the tailnet after this long (default: wait, as Go's `Up`; a login URL waits for a person). */
  upTimeoutMs?: number;
  /** Stop waiting for the node to come up when this aborts (`startHello` then closes it and rejects). */
  signal?: AbortSignal;
  /** One line per request answered: who called, from where, and the status code (default: none). */
  accessLogf?: Logf;
}

/** A running hello app: the node, where it serves, and `close()`. */
export interface Hello {
  /** The tailnet node. Closed by `close()`. */
  readonly server: Server;
  /** The tailnet port served. */
  readonly port: number;
  /** The node's MagicDNS name without the trailing dot (`hello.tailnet.ts.net`), or `''` if control gave none. */
  readonly dnsName: string;
  /** The node's Tailscale IPs, IPv4 first. */
  readonly ips: readonly string[];
  /** Stops serving, closes open connections and the node (an ephemeral node logs out). Idempotent. */
  close(): Promise<void>;
}

/** `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`). */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The request handler of the hello app: `Hello, <LoginName>!` for the caller WhoIs names, or a
 * 500 with WhoIs's error (Go's `http.Error`). Works on any `node:http` server whose connections
 * come from a tailnet listener of the node `lc` belongs to.
 *
 * @example
 * ```ts
 * import * as http from 'node:http';
 * import { Server } from 'tsnet';
 * import { helloHandler } from '@tsnet/hello';
 *
 * const srv = new Server({ hostname: 'greeter' });
 * const web = http.createServer(helloHandler(await srv.localClient()));
 * const ln = await srv.listen('tcp', ':80');
 * ln.on('connection', (sock) => web.emit('connection', sock));
 * ```
 */
export function helloHandler(lc: HelloLocalClient, accessLogf?: Logf): http.RequestListener {
  return (req, res) => {
    const remote = joinHostPort(req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0);
    lc.whoIs(remote).then(
      (who) => {
        const login = who.UserProfile.LoginName;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end(`Hello, ${login}!`);
        accessLogf?.('hello: %s %s from %s (%s): 200', req.method, req.url, remote, login);
      },
      (err: unknown) => {
        const msg = err instanceof Error ? err.message : String(err);
        res.statusCode = 500;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end(`${msg}\n`);
        accessLogf?.('hello: %s %s from %s: 500 %s', req.method, req.url, remote, msg);
      },
    );
  };
}

/**
 * Starts the hello app: a `Server` (host name `hello` unless given), `up()`, then `node:http` on
 * tailnet port 80 answering `Hello, <LoginName>!`. Resolves once it serves; rejects (after closing
 * the node) if the node cannot come up, for example with the control server's words for a bad key.
 *
 * Every `Server` option passes through: pass `dir` (or a `store`) to choose where the node's
 * state lives, `authKey`/`controlUrl` to override `TS_AUTHKEY`/`TS_CONTROL_URL`.
 *
 * @example
 * ```ts
 * import { startHello } from '@tsnet/hello';
 *
 * const hello = await startHello({ dir: './hello-state' }); // TS_AUTHKEY from the environment
 * console.log(`curl http://${hello.dnsName}/`);
 * process.once('SIGINT', () => void hello.close());
 * ```
 */
export async function startHello(opts: HelloOptions = {}): Promise<Hello> {
  const { port = HELLO_DEFAULT_PORT, upTimeoutMs, signal, accessLogf, ...serverOptions } = opts;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`opts.port must be an integer in [1, 65535], got ${port}`);
  }
  const server = new Server({ ...serverOptions, hostname: serverOptions.hostname ?? HELLO_DEFAULT_HOSTNAME });
  const sockets = new Set<Duplex>();
  let listener: { close(): unknown } | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      listener?.close();
      // FIN every open connection and give the peers a moment to answer theirs, so they see the
      // connection end rather than a node that went silent; then close whatever is left.
      const open = [...sockets];
      const ended = Promise.all(open.map((s) => new Promise((resolve) => s.once('close', resolve))));
      for (const s of open) s.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      sockets.clear();
      await server.close();
    })();
    return closing;
  };
  try {
    const status = await server.up({
      ...(upTimeoutMs !== undefined ? { timeoutMs: upTimeoutMs } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
    const lc = await server.localClient();
    const web = http.createServer(helloHandler(lc, accessLogf));
    const ln = await server.listen('tcp', `:${port}`);
    listener = ln;
    ln.on('connection', (sock: Duplex) => {
      sockets.add(sock);
      sock.once('close', () => sockets.delete(sock));
      web.emit('connection', sock);
    });
    const { ip4, ip6 } = server.tailscaleIPs();
    return {
      server,
      port,
      dnsName: (status.Self?.DNSName ?? '').replace(/\.$/, ''),
      ips: [ip4, ip6].filter((ip): ip is string => ip !== undefined),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * What to tell a person about a running hello app: its name, its IPs, and how to reach it (the
 * lines `tsnet-hello` and the demo print).
 */
export function describeHello(hello: Hello): string[] {
  const short = hello.server.hostname;
  const suffix = hello.port === 80 ? '' : `:${hello.port}`;
  const lines = [
    `${short} is on the tailnet as ${hello.dnsName || short} (${hello.ips.join(', ')})`,
    'From any device on the tailnet:',
    `  curl http://${short}${suffix}/`,
  ];
  if (hello.dnsName !== '') lines.push(`  curl http://${hello.dnsName}${suffix}/`);
  for (const ip of hello.ips) {
    const host = ip.includes(':') ? `[${ip}]` : ip;
    lines.push(`  curl http://${host}${suffix}/`);
  }
  return lines;
}
