/**
 * Registration (`POST /machine/register`), the client decision table of tailscale/tailscale
 * `control/controlclient/direct.go doLogin` (minimal form: `control/tsp/register.go`):
 *
 * 1. HTTP 429: wait `Retry-After` (bounded; default 5–10 s) and retry. Other non-200: `ControlHttpError`.
 * 2. `Error` non-empty: `ControlLoginError` with the server's words (headscale: `"invalid pre auth
 *    key"`, expired/used key messages, `"requested tags [...] are invalid or not permitted"`).
 * 3. `NodeKeyExpired`: generate a new node key, send the old one as `OldNodeKey`, register again.
 * 4. `AuthURL`: report it (`onAuthURL`), then send the same request with `Followup = AuthURL`; the
 *    server holds that request until the login completes (headscale `waitForFollowup`).
 * 5. Otherwise registered.
 *
 * Logout is a register with `Expiry` in the past (Go sends `time.Unix(123, 0)`): headscale deletes
 * an ephemeral node and expires any other.
 *
 * Tags: `Hostinfo.RequestTags`. headscale v0.29.2 rejects a registration that carries RequestTags
 * together with a pre-auth key ("PreAuthKey nodes get their tags from the key itself",
 * `hscontrol/state/state.go`): use a tagged pre-auth key (`headscale preauthkeys create --tags`)
 * and no `tags` option; RequestTags only work for interactive logins allowed by `tagOwners`.
 */
import { type Clock, type Logf, NodePrivate, NodePublic } from '@tsnet/core';
import { ControlHttpError, ControlLoginError } from './errors.js';
import { decodeJSON } from './tailcfg/decode.js';
import { goZeroTime } from './tailcfg/go.js';
import type { Hostinfo } from './tailcfg/node.js';
import {
  type RegisterRequest,
  type RegisterResponse,
  RegisterResponseSchema,
  ZERO_NL_PUBLIC,
} from './tailcfg/register.js';
import type { NoiseHttpClient } from './ts2021/client.js';

/** Go's logout expiry: `time.Unix(123, 0)`, "far in the past". */
export const LOGOUT_EXPIRY_MS = 123_000;
/** How long one Followup long poll may wait before it is re-sent. */
export const FOLLOWUP_TIMEOUT_MS = 10 * 60_000;
const MAX_ROUNDS = 8;

/** What `register` needs for one registration (auth key or interactive). */
export interface RegisterParams {
  /** Opens (or reuses) the Noise HTTP/2 client to control. */
  http: () => Promise<NoiseHttpClient>;
  /** The capability version to send. */
  version: number;
  /** The node key to register. */
  nodeKey: NodePrivate;
  /** The key `nodeKey` replaces (a forced re-login with a fresh key, as Go's LoginInteractive). */
  oldNodeKey?: NodePrivate | undefined;
  /** The host info to send. */
  hostinfo: Hostinfo;
  /** The auth key, or undefined for an interactive login. */
  authKey?: string | undefined;
  /** Whether to register as an ephemeral node. */
  ephemeral?: boolean | undefined;
  /** The clock for timeouts. */
  clock: Clock;
  /** Verbose logs. */
  logf: Logf;
  /** Gives up when it aborts. */
  signal?: AbortSignal | undefined;
  /** Called with the URL the user must visit for an interactive login. */
  onAuthURL?: ((url: string) => void) | undefined;
}

/** What a successful registration gives. */
export interface RegisterResult {
  /** The node key now registered (a new one if control asked for rotation). */
  nodeKey: NodePrivate;
  /** The previous key when it was rotated. */
  oldNodeKey: NodePrivate | undefined;
  /** Control's final answer. */
  response: RegisterResponse;
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      t.cancel();
      reject(signal?.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function retryAfterMs(header: string | undefined, clock: Clock): number {
  const n = Number(header);
  let ms =
    Number.isFinite(n) && header !== undefined && header.trim() !== ''
      ? n * 1000
      : Date.parse(header ?? '') - clock.wallNow();
  if (!(ms > 0) || ms > 3_600_000) ms = 5000 + Math.random() * 5000;
  return ms;
}

async function post(
  params: RegisterParams,
  req: RegisterRequest,
  timeoutMs: number,
): Promise<{ status: number; body: Buffer; retryAfter?: string }> {
  const http = await params.http();
  const res = await http.requestWithHeaders('POST', '/machine/register', JSON.stringify(req), {
    timeoutMs,
    ...(params.signal ? { signal: params.signal } : {}),
  });
  return res;
}

/** Runs the registration decision table until registered or refused. */
export async function register(params: RegisterParams): Promise<RegisterResult> {
  let trying = params.nodeKey;
  let old: NodePrivate | undefined = params.oldNodeKey;
  let followup = '';
  let regenerated = false;
  for (let round = 0; ; round++) {
    if (round > MAX_ROUNDS && followup === '') throw new ControlLoginError('too many register rounds');
    const req: RegisterRequest = {
      Version: params.version,
      NodeKey: trying.public(),
      OldNodeKey: old?.public() ?? NodePublic.zero(),
      NLKey: ZERO_NL_PUBLIC,
      Expiry: goZeroTime(),
      Followup: followup,
      Hostinfo: params.hostinfo,
      Timestamp: new Date(Math.round(params.clock.wallNow() / 1000) * 1000),
    };
    if (params.authKey) req.Auth = { AuthKey: params.authKey };
    if (params.ephemeral) req.Ephemeral = true;
    params.logf(
      'control: RegisterReq: onode=%s node=%s fup=%s',
      req.OldNodeKey.shortString(),
      req.NodeKey.shortString(),
      followup !== '',
    );
    const res = await post(params, req, followup !== '' ? FOLLOWUP_TIMEOUT_MS : 60_000).catch(
      (e: unknown) => {
        // A Followup long poll that timed out on our side is simply re-sent.
        if (followup !== '' && !params.signal?.aborted && (e as { code?: string }).code === 'ETIMEDOUT') {
          return null;
        }
        throw e;
      },
    );
    if (res === null) continue;
    if (res.status === 429) {
      const ms = retryAfterMs(res.retryAfter, params.clock);
      params.logf('control: registration rate limited; retrying after %d ms', Math.round(ms));
      await sleep(params.clock, ms, params.signal);
      continue;
    }
    if (res.status !== 200)
      throw new ControlHttpError('register request', res.status, res.body.toString('utf8'));
    const resp = decodeJSON(RegisterResponseSchema, res.body, 'RegisterResponse');
    params.logf(
      'control: RegisterReq: got response; nodeKeyExpired=%s, machineAuthorized=%s; authURL=%s',
      Boolean(resp.NodeKeyExpired),
      Boolean(resp.MachineAuthorized),
      Boolean(resp.AuthURL),
    );
    if (resp.Error) throw new ControlLoginError(resp.Error);
    if (resp.NodeKeyExpired) {
      if (regenerated) {
        throw new ControlLoginError(
          `weird: regen=true but server says NodeKeyExpired: ${trying.public().shortString()}`,
        );
      }
      params.logf('control: server reports node key %s has expired; rotating', trying.public().shortString());
      old = trying;
      trying = NodePrivate.generate();
      regenerated = true;
      followup = '';
      continue;
    }
    if (resp.AuthURL) {
      params.onAuthURL?.(resp.AuthURL);
      followup = resp.AuthURL;
      continue;
    }
    return { nodeKey: trying, oldNodeKey: old, response: resp };
  }
}

/** Logs out: a register with `Expiry` in the past. Returns the server's answer. */
export async function logout(
  params: Omit<RegisterParams, 'authKey' | 'onAuthURL'>,
): Promise<RegisterResponse> {
  const req: RegisterRequest = {
    Version: params.version,
    NodeKey: params.nodeKey.public(),
    OldNodeKey: NodePublic.zero(),
    NLKey: ZERO_NL_PUBLIC,
    Expiry: new Date(LOGOUT_EXPIRY_MS),
    Followup: '',
    Hostinfo: params.hostinfo,
  };
  if (params.ephemeral) req.Ephemeral = true;
  const res = await post(params, req, 60_000);
  if (res.status !== 200) throw new ControlHttpError('logout request', res.status, res.body.toString('utf8'));
  const resp = decodeJSON(RegisterResponseSchema, res.body, 'RegisterResponse');
  if (resp.Error) throw new ControlLoginError(resp.Error);
  return resp;
}
