/**
 * LocalClient errors: `TsnetError`s with stable codes, as `client/local/local.go` distinguishes
 * them (`ErrPeerNotFound` for a WhoIs 404, `AccessDeniedError` for 403, the "Failed to connect to
 * local Tailscale daemon" dial error, `httpStatusError` otherwise).
 */
import { TsnetError } from '@tsnet/core';

/** Any LocalAPI failure. `status` is the HTTP status when the server answered. */
export class LocalApiError extends TsnetError {
  /** The HTTP status code, when the LocalAPI answered. */
  readonly status: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.status = options?.status;
  }
}

/** WhoIs found no node for the address (HTTP 404; Go's `local.ErrPeerNotFound`). Code `ERR_PEER_NOT_FOUND`. */
export class PeerNotFoundError extends LocalApiError {
  constructor(addr: string, options?: { cause?: unknown }) {
    super('ERR_PEER_NOT_FOUND', `peer not found: ${addr}`, { ...options, status: 404 });
  }
}

/**
 * The LocalAPI refused the request: 403 (`ERR_ACCESS_DENIED`, a wrong password, a missing
 * `Sec-Tailscale` header, a read- or write-protected endpoint) or 401 (`ERR_AUTH_REQUIRED`, no
 * credentials sent).
 */
export class AccessDeniedError extends LocalApiError {
  constructor(status: 401 | 403, detail: string) {
    super(status === 401 ? 'ERR_AUTH_REQUIRED' : 'ERR_ACCESS_DENIED', `Access denied: ${detail}`, { status });
  }
}

/**
 * The LocalAPI could not be reached. `code` is the socket error (`ECONNREFUSED` for a dead
 * tailscaled or loopback port, `ENOENT` for a missing socket file, `EACCES`, `ETIMEDOUT`...).
 */
export class LocalApiConnectError extends LocalApiError {}
