/**
 * `Server` options: the zod schema, validated once in the constructor with errors that name the
 * field, and the defaults Go tsnet uses (protocol-map §10.1): the hostname is the program's name,
 * the state directory is `<user config dir>/tsnet-<program>`, the control URL is `TS_CONTROL_URL` or
 * Tailscale's.
 */
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { type Logf, TsnetError } from '@tsnet/core';
import { z } from 'zod';
import type { StateStore } from './state/store.js';

/** Tailscale's control server, the default when neither `controlUrl` nor `TS_CONTROL_URL` is set. */
export const DEFAULT_CONTROL_URL = 'https://controlplane.tailscale.com';

/** Options of `new Server(…)`. Every field is optional. */
export interface ServerOptions {
  /** The node's name on the tailnet (a DNS label). Default: the program's file name, as Go's. */
  hostname?: string;
  /**
   * Where state lives (`tailscaled.state`, as Go's FileStore). Default:
   * `<user config dir>/tsnet-<program>` (`$XDG_CONFIG_HOME` or `~/.config` on Linux,
   * `~/Library/Application Support` on macOS, `%APPDATA%` on Windows). Created with mode 0700.
   */
  dir?: string;
  /** A state store to use instead of the file in `dir` (`MemoryStore` only with `ephemeral`). */
  store?: StateStore;
  /** An auth key (`tskey-auth-…` or a headscale pre-auth key). See the README's precedence. */
  authKey?: string;
  /** Register as an ephemeral node: removed by control soon after it goes away; logs out on close. */
  ephemeral?: boolean;
  /** The control server. Default: `TS_CONTROL_URL`, else `https://controlplane.tailscale.com`. */
  controlUrl?: string;
  /** ACL tags to request, e.g. `['tag:server']` (sent as `Hostinfo.RequestTags`). */
  advertiseTags?: string[];
  /** Verbose backend logs (default: discarded). Keys are never logged. */
  logf?: Logf;
  /** User-facing logs: the login URL, state changes. Default: `console.error`. */
  userLogf?: Logf;
  /** UDP port for WireGuard and disco (0 or absent: any free port). */
  port?: number;
  /** OAuth client secret to mint an auth key. Accepted, not supported yet: `start()` says so. */
  clientSecret?: string;
  /** Workload identity client ID. Accepted, not supported yet: `start()` says so. */
  clientId?: string;
  /** Workload identity ID token. Accepted, not supported yet. */
  idToken?: string;
  /** Workload identity audience. Accepted, not supported yet. */
  audience?: string;
  /** Address of the UDP socket (default `::`: dual-stack, IPv4 and IPv6; `0.0.0.0` without IPv6). */
  listenAddress?: string;
  /** Plain HTTP to DERP servers (Go's `TS_DEBUG_USE_DERP_HTTP`; for test tailnets). */
  derpUseHttp?: boolean;
}

/** A `Server` option that is missing, of the wrong type or out of range. `field` names it. */
export class ServerOptionError extends TsnetError {
  /** The option at fault, e.g. `hostname` or `advertiseTags.1`. */
  readonly field: string;
  constructor(field: string, why: string) {
    super('ERR_INVALID_OPTION', `Server option ${field}: ${why}`);
    this.field = field;
  }
}

const DNS_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const TAG = /^tag:[a-zA-Z][a-zA-Z0-9-]*$/;
const isFunction = (v: unknown) => typeof v === 'function';

const OptionsSchema = z.strictObject({
  hostname: z
    .string()
    .regex(DNS_LABEL, 'must be a DNS label (letters, digits, inner dashes; 1-63)')
    .optional(),
  dir: z.string().min(1, 'must be a non-empty path').optional(),
  store: z
    .custom<StateStore>(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        isFunction((v as StateStore).get) &&
        isFunction((v as StateStore).set),
      'must be an object with get(key) and set(key, value) methods',
    )
    .optional(),
  authKey: z.string().optional(),
  ephemeral: z.boolean().optional(),
  controlUrl: z
    .string()
    .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http or https URL')
    .optional(),
  advertiseTags: z.array(z.string().regex(TAG, 'must look like tag:name')).optional(),
  logf: z.custom<Logf>(isFunction, 'must be a function').optional(),
  userLogf: z.custom<Logf>(isFunction, 'must be a function').optional(),
  port: z.number().int('must be an integer').min(0).max(65535).optional(),
  clientSecret: z.string().optional(),
  clientId: z.string().optional(),
  idToken: z.string().optional(),
  audience: z.string().optional(),
  listenAddress: z
    .string()
    .refine((s) => /^[0-9.]+$|:/.test(s), 'must be an IP address')
    .optional(),
  derpUseHttp: z.boolean().optional(),
});

/** Validates `opts` (throws `ServerOptionError` naming the first bad field) and freezes a copy. */
export function validateOptions(opts: unknown): Readonly<ServerOptions> {
  if (opts === undefined) opts = {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw new ServerOptionError('options', 'must be an object');
  }
  const r = OptionsSchema.safeParse(opts);
  if (!r.success) {
    const issue = r.error.issues[0];
    if (issue === undefined) throw new ServerOptionError('options', 'invalid');
    if (issue.code === 'unrecognized_keys') {
      throw new ServerOptionError(issue.keys[0] ?? 'options', 'is not a Server option');
    }
    const field = issue.path.map(String).join('.') || 'options';
    const why = issue.code === 'invalid_type' ? `must be ${issue.expected}` : issue.message;
    throw new ServerOptionError(field, why);
  }
  const out: ServerOptions = { ...(r.data as ServerOptions) };
  if (out.advertiseTags !== undefined) out.advertiseTags = Object.freeze([...out.advertiseTags]) as string[];
  return Object.freeze(out);
}

/** The program's name, as Go's default hostname: the script's file name without extension. */
export function programName(): string {
  const script = process.argv[1] ?? process.argv0 ?? 'node';
  const name = basename(script, extname(script)).toLowerCase();
  const label = name.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '');
  return label === '' ? 'tsnet' : label.slice(0, 63);
}

/** Go's `os.UserConfigDir()`. */
export function userConfigDir(): string {
  if (process.platform === 'win32') return process.env.APPDATA ?? join(homedir(), 'AppData', 'Roaming');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support');
  const xdg = process.env.XDG_CONFIG_HOME;
  return xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.config');
}

/** The default state directory for this program: `<user config dir>/tsnet-<program>`. */
export function defaultStateDir(): string {
  return join(userConfigDir(), `tsnet-${programName()}`);
}
