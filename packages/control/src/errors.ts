/**
 * The errors this package raises. All are `TsnetError`s (see `@tsnet/core`) with a stable `code`:
 *
 * | class | code | when |
 * |---|---|---|
 * | `ControlProtocolError` | `ERR_CONTROL_PROTOCOL` | the server sent something malformed (bad JSON, a field of the wrong form, a bad frame) |
 * | `ControlHandshakeError` | `ERR_CONTROL_HANDSHAKE` | the ts2021 upgrade or Noise handshake failed (including the server's unauthenticated error message) |
 * | `ControlHttpError` | `ERR_CONTROL_HTTP` | a control request got a non-200 status; carries `status` and the server's body text |
 * | `ControlLoginError` | `ERR_CONTROL_LOGIN` | `RegisterResponse.Error` was set: `serverMessage` holds the server's words |
 * | `ControlClosedError` | `ERR_CONTROL_CLOSED` | the client or connection was closed |
 * | `ControlUnreachableError` | `ERR_CONTROL_UNREACHABLE` | the control server could not be reached (refused, no route, DNS); `cause` holds the socket error |
 */
import { TsnetError } from '@tsnet/core';

/** The server sent something we cannot parse. `field` names where, e.g. `MapResponse.Peers[3].Key`. */
export class ControlProtocolError extends TsnetError {
  /** Where in the message the problem is, e.g. `MapResponse.Peers[3].Key`, when known. */
  readonly field: string | undefined;
  constructor(message: string, options?: { cause?: unknown; field?: string }) {
    super('ERR_CONTROL_PROTOCOL', message, options);
    this.field = options?.field;
  }
}

/** The ts2021 upgrade or the Noise handshake failed. */
export class ControlHandshakeError extends TsnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTROL_HANDSHAKE', message, options);
  }
}

/** A control request answered with a status other than 200. */
export class ControlHttpError extends TsnetError {
  /** The HTTP status code. */
  readonly status: number;
  /** The response body as text, cut to 1000 characters. */
  readonly body: string;
  constructor(what: string, status: number, body: string) {
    super('ERR_CONTROL_HTTP', `${what}: http ${status}: ${body.trim().slice(0, 200)}`);
    this.status = status;
    this.body = body.slice(0, 1000);
  }
}

/** The control server refused the login (`RegisterResponse.Error`). */
export class ControlLoginError extends TsnetError {
  /** The server's own words, e.g. headscale's `"invalid pre auth key"`. */
  readonly serverMessage: string;
  constructor(serverMessage: string) {
    super('ERR_CONTROL_LOGIN', `register: ${serverMessage}`);
    this.serverMessage = serverMessage;
  }
}

/** The client or its connection is closed. */
export class ControlClosedError extends TsnetError {
  constructor(message = 'control client closed', options?: { cause?: unknown }) {
    super('ERR_CONTROL_CLOSED', message, options);
  }
}

/** The control server could not be reached at all; `cause` is the socket error (e.g. `ECONNREFUSED`). */
export class ControlUnreachableError extends TsnetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_CONTROL_UNREACHABLE', message, options);
  }
}
