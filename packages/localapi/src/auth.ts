/**
 * LocalAPI request checks (protocol-map §9.1), in the order tailscale applies them:
 *
 * 1. On tsnet's loopback listener, `Sec-Tailscale: localapi` must be present, else 403 with
 *    `missing 'Sec-Tailscale: localapi' header` (`tsnet/tsnet.go localSecHandler`). A browser cannot
 *    send that header cross-origin without a CORS preflight, which we never grant.
 * 2. No `Referer`, no `Origin`, and a `Host` of `local-tailscaled.sock` (or none); with a password
 *    configured also `localhost:<port>` or a loopback `ip:port` (`localapi.go validHost`). Else 403
 *    `invalid localapi request` (defeats DNS rebinding and drive-by browser requests).
 * 3. With a password configured: HTTP Basic auth whose password equals it (any user name), compared
 *    in constant time; no credentials → 401 `auth required`, a wrong one → 403 `bad password`.
 *
 * Secrets are never logged.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { IPAddr } from '@tsnet/core';

/** The Host header LocalAPI clients send (`apitype.LocalAPIHost`). */
export const LOCAL_API_HOST = 'local-tailscaled.sock';

/** The header tsnet's loopback LocalAPI requires, and its value. */
export const SEC_TAILSCALE_HEADER = 'sec-tailscale';
export const SEC_TAILSCALE_VALUE = 'localapi';

/**
 * A fresh random LocalAPI credential for a loopback listener: 16 random bytes as hex, as Go tsnet's
 * `Loopback()` makes its `localAPICred`.
 */
export function newLocalApiCredential(): string {
  return randomBytes(16).toString('hex');
}

/** Constant-time equality of two secrets of any lengths (compares SHA-256 digests). */
export function secretsEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/** The password of an `Authorization: Basic …` header (Go `Request.BasicAuth`), or `null`. */
export function basicAuthPassword(header: string | undefined): string | null {
  if (header === undefined) return null;
  const prefix = 'basic ';
  if (header.length < prefix.length || header.slice(0, prefix.length).toLowerCase() !== prefix) return null;
  const b64 = header.slice(prefix.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return decoded.slice(colon + 1);
}

/** `localapi.go validHost`. */
export function validHost(host: string | undefined, passwordRequired: boolean): boolean {
  if (host === undefined || host === '' || host === LOCAL_API_HOST) return true;
  if (!passwordRequired) return false;
  // net.SplitHostPort: "host:port" or "[v6]:port".
  let h: string;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0 || host[end + 1] !== ':') return false;
    h = host.slice(1, end);
  } else {
    const colon = host.indexOf(':');
    if (colon < 0 || colon !== host.lastIndexOf(':')) return false;
    h = host.slice(0, colon);
  }
  if (h === 'localhost') return true;
  const ip = IPAddr.tryParse(h);
  if (ip === null) return false;
  const u = ip.unmap();
  if (u.is4()) return u.bytes[0] === 127;
  return u.bytes.every((b, i) => (i === 15 ? b === 1 : b === 0));
}

/** Why a request was refused, as status and body text. */
export interface AuthFailure {
  status: 401 | 403;
  message: string;
}

export interface AuthPolicy {
  /** Require `Sec-Tailscale: localapi` (tsnet's loopback listener). */
  requireSecTailscaleHeader: boolean;
  /** The Basic-auth password required, or `undefined` for none. */
  requiredPassword: string | undefined;
}

/** Applies the checks above to request headers (lower-case names, as node:http gives them). */
export function checkRequest(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  policy: AuthPolicy,
): AuthFailure | null {
  const one = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  if (policy.requireSecTailscaleHeader && one(SEC_TAILSCALE_HEADER) !== SEC_TAILSCALE_VALUE) {
    return { status: 403, message: "missing 'Sec-Tailscale: localapi' header" };
  }
  const referer = one('referer');
  const origin = one('origin');
  const passwordRequired = policy.requiredPassword !== undefined && policy.requiredPassword !== '';
  if ((referer !== undefined && referer !== '') || (origin !== undefined && origin !== '')) {
    return { status: 403, message: 'invalid localapi request' };
  }
  if (!validHost(one('host'), passwordRequired)) return { status: 403, message: 'invalid localapi request' };
  if (passwordRequired) {
    const pass = basicAuthPassword(one('authorization'));
    if (pass === null) return { status: 401, message: 'auth required' };
    if (!secretsEqual(pass, policy.requiredPassword ?? '')) return { status: 403, message: 'bad password' };
  }
  return null;
}
