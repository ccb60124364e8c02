/**
 * The command line of `tsnet-derper`, in the spirit of Go's `cmd/derper` (`-a`, `-c`, `-certmode`,
 * `-certdir`, `-hostname`, `-stun`, `-stun-port`, `-mesh-psk-file`), parsed into options. Flags
 * take one or two dashes and `--flag=value` or `--flag value`.
 */

export type CertMode = 'none' | 'manual' | 'self-signed';

export interface DerperOptions {
  /** Listen address `host:port` (default 127.0.0.1:3340; Go's default is :443). */
  addr: string;
  /** Key file (JSON `{"PrivateKey":"privkey:…"}`, as Go's derper); created if missing. Empty = ephemeral key. */
  configPath: string;
  certMode: CertMode;
  /** manual: certificate and key PEM files. */
  tlsCert: string;
  tlsKey: string;
  /** manual without --tls-cert/--tls-key: `<certdir>/<hostname>.crt` and `.key`, as Go's derper. */
  certDir: string;
  /** TLS host name (and the DERP node's HostName in the printed DERP map). */
  hostname: string;
  stun: boolean;
  stunPort: number;
  meshPskFile: string;
  /** URLs of the region's other DERP servers to mesh with (needs --mesh-psk-file). */
  meshWith: string[];
  /** Per-client receive limit in bytes/s (0 = none), and its burst. */
  rateLimitBytesPerSec: number;
  rateBurstBytes: number;
  verbose: boolean;
  help: boolean;
}

export const USAGE = `usage: tsnet-derper [flags]

  -a, --addr host:port        listen address (default 127.0.0.1:3340)
  -c, --config path           key file, created if missing (default: a new key each run)
  --certmode mode             none | manual | self-signed (default none: plain HTTP)
  --tls-cert path, --tls-key path   certificate and key PEM (certmode manual)
  --certdir dir               certmode manual without --tls-*: <certdir>/<hostname>.crt/.key
  --hostname name             TLS name (default: the listen host)
  --stun=false                do not run the STUN responder
  --stun-port port            STUN UDP port on the listen host (default 3478; -1 disables)
  --mesh-psk-file path        mesh pre-shared key (64 hex digits)
  --mesh-with url,url         other DERP servers of the region to mesh with (http(s)://host:port/derp)
  --rate-limit bytes/s        per-client receive rate limit (default 0: none)
  --rate-burst bytes          its burst (default 2 × the limit)
  -v, --verbose               log connections
  -h, --help                  this text
`;

function bool(v: string): boolean {
  if (v === 'true' || v === '1' || v === '') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`not a boolean: ${v}`);
}

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name}: not an integer: ${v}`);
  return n;
}

/** Parses argv (without node and the script); throws an Error with a message for the user. */
export function parseOptions(argv: readonly string[]): DerperOptions {
  const o: DerperOptions = {
    addr: '127.0.0.1:3340',
    configPath: '',
    certMode: 'none',
    tlsCert: '',
    tlsKey: '',
    certDir: '',
    hostname: '',
    stun: true,
    stunPort: 3478,
    meshPskFile: '',
    meshWith: [],
    rateLimitBytesPerSec: 0,
    rateBurstBytes: 0,
    verbose: false,
    help: false,
  };
  const boolFlags = new Set(['stun', 'v', 'verbose', 'h', 'help']);
  const known = new Set([
    ...boolFlags,
    'a',
    'addr',
    'c',
    'config',
    'certmode',
    'tls-cert',
    'tls-key',
    'certdir',
    'hostname',
    'stun-port',
    'mesh-psk-file',
    'mesh-with',
    'rate-limit',
    'rate-burst',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue; // what `pnpm start -- …` passes through
    if (!arg.startsWith('-')) throw new Error(`unexpected argument: ${arg}`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    if (!known.has(name)) throw new Error(`unknown flag: ${arg}`);
    let value: string;
    if (eq !== -1) value = body.slice(eq + 1);
    else if (boolFlags.has(name)) value = '';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new Error(`flag needs a value: ${arg}`);
      value = next;
      i++;
    }
    switch (name) {
      case 'a':
      case 'addr':
        o.addr = value;
        break;
      case 'c':
      case 'config':
        o.configPath = value;
        break;
      case 'certmode':
        if (value !== 'none' && value !== 'manual' && value !== 'self-signed') {
          throw new Error(`--certmode must be none, manual or self-signed, got ${value}`);
        }
        o.certMode = value;
        break;
      case 'tls-cert':
        o.tlsCert = value;
        break;
      case 'tls-key':
        o.tlsKey = value;
        break;
      case 'certdir':
        o.certDir = value;
        break;
      case 'hostname':
        o.hostname = value;
        break;
      case 'stun':
        o.stun = bool(value);
        break;
      case 'stun-port':
        o.stunPort = int(name, value);
        break;
      case 'mesh-psk-file':
        o.meshPskFile = value;
        break;
      case 'mesh-with':
        o.meshWith = value
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== '');
        break;
      case 'rate-limit':
        o.rateLimitBytesPerSec = int(name, value);
        break;
      case 'rate-burst':
        o.rateBurstBytes = int(name, value);
        break;
      case 'v':
      case 'verbose':
        o.verbose = bool(value);
        break;
      case 'h':
      case 'help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown flag: ${arg}`);
    }
  }
  // --tls-cert/--tls-key imply manual, as a convenience.
  if (o.certMode === 'none' && (o.tlsCert !== '' || o.tlsKey !== '')) o.certMode = 'manual';
  if (o.certMode === 'manual' && (o.tlsCert === '') !== (o.tlsKey === '')) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  if (o.certMode === 'manual' && o.tlsCert === '' && o.certDir === '') {
    throw new Error('certmode manual needs --tls-cert and --tls-key, or --certdir');
  }
  if (o.meshWith.length > 0 && o.meshPskFile === '') throw new Error('--mesh-with needs --mesh-psk-file');
  splitHostPort(o.addr);
  return o;
}

/** `host:port` or `[v6]:port` → parts; throws for anything else. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (m === null) throw new Error(`--addr must be host:port, got ${addr}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--addr port out of range: ${addr}`);
  return { host: m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!), port };
}
