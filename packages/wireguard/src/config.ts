/**
 * A loader for the standard WireGuard configuration format, as `wg setconf` and `wg-quick` read it
 * (wireguard-tools `src/config.c`, `wg-quick(8)`): `[Interface]` and `[Peer]` sections of
 * `Key = Value` lines, `#` comments, case-insensitive keys, comma-separated lists.
 *
 * Keys are base64 (32 bytes). wg-quick's own keys (Address, DNS, MTU, Table, Pre/PostUp/Down,
 * SaveConfig) are parsed where the Device has a use for them (Address, DNS, MTU) and otherwise kept
 * as text in `extra`. Errors are `WgConfigError`s that name the line number.
 */
import { parseBase64 } from '@tsnet/core';
import { parseIp, parsePrefix } from './ip.js';

/** A configuration error, with the 1-based line it was found on (0 when it concerns the whole file). */
export class WgConfigError extends Error {
  /** Always `'WgConfigError'`. */
  override readonly name = 'WgConfigError';
  /** The 1-based line of the offending text; 0 for a whole-file problem (no [Interface], no PrivateKey). */
  readonly line: number;
  constructor(line: number, message: string) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.line = line;
  }
}

/** The `[Interface]` section. */
export interface WgInterfaceConfig {
  /** `PrivateKey`: our static private key, 32 bytes (required). */
  privateKey: Uint8Array;
  /** `ListenPort`: UDP port to listen on (0–65535); absent means a random port. */
  listenPort?: number;
  /** `FwMark`: Linux socket mark, 32 bits; `off` is 0. Parsed but not applied by this package. */
  fwMark?: number;
  /** wg-quick `Address`: the interface's addresses with prefix lengths, e.g. `10.0.0.1/24`. */
  addresses: string[];
  /** wg-quick `DNS`. */
  dns: string[];
  /** wg-quick `MTU`. */
  mtu?: number;
  /** Other wg-quick keys (Table, PreUp, PostUp, PreDown, PostDown, SaveConfig), lower-cased, as text. */
  extra: Record<string, string>;
}

/** One `[Peer]` section. */
export interface WgPeerConfig {
  /** `PublicKey`: the peer's static public key, 32 bytes (required). */
  publicKey: Uint8Array;
  /** `PresharedKey`: the optional 32-byte symmetric key mixed into the handshake (Noise psk2). */
  presharedKey?: Uint8Array;
  /** `AllowedIPs` as written, with `/32` or `/128` added to bare addresses, e.g. `10.0.0.2/32`. */
  allowedIps: string[];
  /** `host:port` or `[v6]:port`, as written. */
  endpoint?: string;
  /** Seconds; 0 or absent means off. */
  persistentKeepalive?: number;
}

/** A parsed configuration file, as `parseWgConfig` returns it. */
export interface WgConfig {
  /** The one `[Interface]` section. */
  interface: WgInterfaceConfig;
  /** The `[Peer]` sections, in file order. */
  peers: WgPeerConfig[];
}

const WG_QUICK_TEXT_KEYS = new Set(['table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig']);

function parseKey(line: number, key: string, value: string): Uint8Array {
  const k = parseBase64(value);
  if (k === null || k.length !== 32) throw new WgConfigError(line, `${key}: not a base64 32-byte key`);
  return k;
}

function parseInteger(line: number, key: string, value: string, max: number): number {
  const v = /^0x[0-9a-f]+$/i.test(value)
    ? Number.parseInt(value, 16)
    : /^[0-9]+$/.test(value)
      ? Number(value)
      : NaN;
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new WgConfigError(line, `${key}: not an integer in 0..${max}: ${value}`);
  return v;
}

function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Checks `host:port` / `[v6]:port` and returns it unchanged. Host names are allowed (resolved by the Bind). */
function parseEndpoint(line: number, value: string): string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : -1;
  if (!m || port < 1 || port > 65535)
    throw new WgConfigError(line, `Endpoint: expected host:port or [v6]:port: ${value}`);
  if (m[1] !== undefined && parseIp(m[1]) === null)
    throw new WgConfigError(line, `Endpoint: bad IPv6 address: ${m[1]}`);
  return value;
}

/**
 * Parses a WireGuard configuration file.
 *
 * @example
 * ```ts
 * const cfg = parseWgConfig('[Interface]\nPrivateKey = ...\n[Peer]\nPublicKey = ...\nAllowedIPs = 0.0.0.0/0\n');
 * ```
 */
export function parseWgConfig(text: string): WgConfig {
  let section: 'none' | 'interface' | 'peer' = 'none';
  let iface: Partial<WgInterfaceConfig> & {
    addresses: string[];
    dns: string[];
    extra: Record<string, string>;
  } = {
    addresses: [],
    dns: [],
    extra: {},
  };
  let sawInterface = false;
  const peers: WgPeerConfig[] = [];
  let peer: (Partial<WgPeerConfig> & { allowedIps: string[]; line: number }) | undefined;
  const finishPeer = () => {
    if (peer === undefined) return;
    if (peer.publicKey === undefined) throw new WgConfigError(peer.line, '[Peer] has no PublicKey');
    const { line: _line, ...rest } = peer;
    peers.push(rest as WgPeerConfig);
    peer = undefined;
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const hash = lines[i]!.indexOf('#');
    const raw = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).trim();
    if (raw === '') continue;
    if (raw.startsWith('[')) {
      const name = raw.toLowerCase();
      finishPeer();
      if (name === '[interface]') {
        if (sawInterface) throw new WgConfigError(n, 'a second [Interface] section');
        sawInterface = true;
        section = 'interface';
      } else if (name === '[peer]') {
        section = 'peer';
        peer = { allowedIps: [], line: n };
      } else {
        throw new WgConfigError(n, `unknown section ${raw}`);
      }
      continue;
    }
    const eq = raw.indexOf('=');
    if (eq < 0) throw new WgConfigError(n, `expected "Key = Value": ${raw}`);
    const key = raw.slice(0, eq).trim();
    const value = raw.slice(eq + 1).trim();
    const k = key.toLowerCase();
    if (section === 'none') throw new WgConfigError(n, `${key} outside of a section`);
    if (section === 'interface') {
      switch (k) {
        case 'privatekey':
          iface.privateKey = parseKey(n, key, value);
          break;
        case 'listenport':
          iface.listenPort = parseInteger(n, key, value, 65535);
          break;
        case 'fwmark':
          iface.fwMark = value === 'off' ? 0 : parseInteger(n, key, value, 0xffff_ffff);
          break;
        case 'address':
          for (const a of list(value)) {
            const slash = a.indexOf('/');
            if (parsePrefix(a) === null || parseIp(slash < 0 ? a : a.slice(0, slash)) === null) {
              throw new WgConfigError(n, `Address: not an IP address or prefix: ${a}`);
            }
            iface.addresses.push(a);
          }
          break;
        case 'dns':
          iface.dns.push(...list(value));
          break;
        case 'mtu':
          iface.mtu = parseInteger(n, key, value, 65535);
          break;
        default:
          if (!WG_QUICK_TEXT_KEYS.has(k)) throw new WgConfigError(n, `unknown key ${key} in [Interface]`);
          iface.extra[k] = iface.extra[k] === undefined ? value : `${iface.extra[k]}\n${value}`;
      }
    } else {
      const p = peer!;
      switch (k) {
        case 'publickey':
          p.publicKey = parseKey(n, key, value);
          break;
        case 'presharedkey':
          p.presharedKey = parseKey(n, key, value);
          break;
        case 'allowedips':
          for (const a of list(value)) {
            const pre = parsePrefix(a);
            if (pre === null) throw new WgConfigError(n, `AllowedIPs: not an IP prefix: ${a}`);
            p.allowedIps.push(a.includes('/') ? a : `${a}/${pre.bits}`);
          }
          break;
        case 'endpoint':
          p.endpoint = parseEndpoint(n, value);
          break;
        case 'persistentkeepalive':
          p.persistentKeepalive = value === 'off' ? 0 : parseInteger(n, key, value, 65535);
          break;
        default:
          throw new WgConfigError(n, `unknown key ${key} in [Peer]`);
      }
    }
  }
  finishPeer();
  if (!sawInterface) throw new WgConfigError(0, 'no [Interface] section');
  if (iface.privateKey === undefined) throw new WgConfigError(0, '[Interface] has no PrivateKey');
  const out = iface as WgInterfaceConfig;
  iface = out;
  return { interface: out, peers };
}
