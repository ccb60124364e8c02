/**
 * The handshake's sealed JSON bodies: `ClientInfo` (client → server, in the ClientInfo frame) and
 * `ServerInfo` (server → client). Each is a NaCl box from the sender's node key to the receiver's,
 * laid out nonce (24) ‖ box, as Go's `key.NodePrivate.SealTo` / `OpenFrom` do.
 *
 * JSON field names are Go's (`derp.ClientInfo` in `derp/derp_client.go`, `derp.ServerInfo` in
 * `derp/derp.go`): `{"meshKey":…,"version":2,"CanAckPings":true,"IsProber":…,"AppName":…}` and
 * `{"version":2,"TokenBucketBytesPerSecond":…,"TokenBucketBytesBurst":…}`. Go's decoder matches
 * names case-insensitively, so ours does too.
 */

import { boxOpen, boxSeal, type CryptoProvider } from '@tsnet/core';
import { KEY_LEN, MAX_CLIENT_INFO_LEN, MAX_INFO_LEN, NONCE_LEN, PROTOCOL_VERSION } from './constants.js';
import { emitFrame } from './frames.js';

/** What a client tells the server about itself. */
export interface ClientInfo {
  /** The protocol version the client speaks (2). */
  version: number;
  /** Whether the client answers the server's Pings with Pongs. */
  canAckPings: boolean;
  /** A mesh pre-shared key (64 hex digits) for trusted peers of a regional mesh; absent for users. */
  meshKey?: string;
  /** Whether this client is a prober (for server stats). */
  isProber?: boolean;
  /** An opaque application name (for server stats). */
  appName?: string;
}

/** What the server tells a client after accepting it. */
export interface ServerInfo {
  /** The protocol version the server speaks (`PROTOCOL_VERSION`, 2); 0 when the JSON left it out. */
  version: number;
  /** The server's advertised receive rate limit (bytes per second including framing); 0 = none. */
  tokenBucketBytesPerSecond: number;
  /** The burst of that limit, in bytes; 0 = none. */
  tokenBucketBytesBurst: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Go's `json:"…"` names for ClientInfo, in Go's field order. */
export function clientInfoJSON(info: ClientInfo): string {
  const o: Record<string, unknown> = {};
  if (info.meshKey !== undefined && info.meshKey !== '') o.meshKey = info.meshKey;
  if (info.version !== 0) o.version = info.version;
  o.CanAckPings = info.canAckPings;
  if (info.isProber === true) o.IsProber = true;
  if (info.appName !== undefined && info.appName !== '') o.AppName = info.appName;
  return JSON.stringify(o);
}

/** Go's `json:"…"` names for ServerInfo; zero fields are left out, as Go's `omitempty` does. */
export function serverInfoJSON(info: ServerInfo): string {
  const o: Record<string, unknown> = {};
  if (info.version !== 0) o.version = info.version;
  if (info.tokenBucketBytesPerSecond !== 0) o.TokenBucketBytesPerSecond = info.tokenBucketBytesPerSecond;
  if (info.tokenBucketBytesBurst !== 0) o.TokenBucketBytesBurst = info.tokenBucketBytesBurst;
  return JSON.stringify(o);
}

/** Parses JSON into a plain object with lower-cased keys, or null. Never throws. */
function parseObject(bytes: Uint8Array): Map<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    return null; // not UTF-8 or not JSON: the caller drops the connection
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const m = new Map<string, unknown>();
  for (const [k, val] of Object.entries(v)) m.set(k.toLowerCase(), val);
  return m;
}

function num(m: Map<string, unknown>, k: string): number {
  const v = m.get(k);
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Decodes ClientInfo JSON; null when it is not a JSON object. Unknown fields are ignored. */
export function parseClientInfo(bytes: Uint8Array): ClientInfo | null {
  const m = parseObject(bytes);
  if (m === null) return null;
  const info: ClientInfo = { version: num(m, 'version'), canAckPings: m.get('canackpings') === true };
  const mesh = m.get('meshkey');
  if (typeof mesh === 'string' && mesh !== '') info.meshKey = mesh;
  if (m.get('isprober') === true) info.isProber = true;
  const app = m.get('appname');
  if (typeof app === 'string' && app !== '') info.appName = app;
  return info;
}

/** Decodes ServerInfo JSON; null when it is not a JSON object. */
export function parseServerInfo(bytes: Uint8Array): ServerInfo | null {
  const m = parseObject(bytes);
  if (m === null) return null;
  return {
    version: num(m, 'version'),
    tokenBucketBytesPerSecond: num(m, 'tokenbucketbytespersecond'),
    tokenBucketBytesBurst: num(m, 'tokenbucketbytesburst'),
  };
}

/** The ClientInfo frame: client public key ‖ box(JSON) from the client's key to the server's. */
export function sealClientInfoFrame(
  crypto: CryptoProvider,
  clientPrivate: Uint8Array,
  clientPublic: Uint8Array,
  serverPublic: Uint8Array,
  info: ClientInfo,
): Uint8Array {
  const sealed = boxSeal(crypto, clientPrivate, serverPublic, encoder.encode(clientInfoJSON(info)));
  return emitFrame({ type: 'ClientInfo', clientKey: clientPublic, sealed });
}

/**
 * Opens a ClientInfo payload (the frame body): the client key and its info, or a reason for
 * refusing it (`derpserver.recvClientKey`). The key bytes returned are a copy.
 */
export function openClientInfo(
  crypto: CryptoProvider,
  serverPrivate: Uint8Array,
  payload: Uint8Array,
):
  | {
      /** The client's 32-byte public key (a copy). */
      clientKey: Uint8Array;
      /** What the client said about itself. */
      info: ClientInfo;
    }
  | {
      /** Why the ClientInfo was refused; the server closes the connection. */
      error: string;
    } {
  if (payload.length > MAX_CLIENT_INFO_LEN) return { error: 'long client info' };
  if (payload.length < KEY_LEN + NONCE_LEN) return { error: 'short client info' };
  const clientKey = payload.slice(0, KEY_LEN);
  const plain = boxOpen(crypto, serverPrivate, clientKey, payload.subarray(KEY_LEN));
  if (plain === null) return { error: 'client info box does not open with the client key' };
  const info = parseClientInfo(plain);
  if (info === null) return { error: 'client info is not a JSON object' };
  return { clientKey, info };
}

/** The ServerInfo frame sealed to the client. */
export function sealServerInfoFrame(
  crypto: CryptoProvider,
  serverPrivate: Uint8Array,
  clientPublic: Uint8Array,
  info: ServerInfo = { version: PROTOCOL_VERSION, tokenBucketBytesPerSecond: 0, tokenBucketBytesBurst: 0 },
): Uint8Array {
  const sealed = boxSeal(crypto, serverPrivate, clientPublic, encoder.encode(serverInfoJSON(info)));
  return emitFrame({ type: 'ServerInfo', sealed });
}

/** Opens a ServerInfo payload; null if it is too long, does not open, or is not JSON. */
export function openServerInfo(
  crypto: CryptoProvider,
  clientPrivate: Uint8Array,
  serverPublic: Uint8Array,
  payload: Uint8Array,
): ServerInfo | null {
  if (payload.length > NONCE_LEN + MAX_INFO_LEN) return null;
  const plain = boxOpen(crypto, clientPrivate, serverPublic, payload);
  return plain === null ? null : parseServerInfo(plain);
}
