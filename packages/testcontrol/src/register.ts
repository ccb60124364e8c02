/**
 * `POST /machine/register` (protocol-map.md §3; tailscale/tailscale
 * `tstest/integration/testcontrol/testcontrol.go serveRegister`, headscale `hscontrol/auth.go`).
 *
 * Decision order, matching what Go's `controlclient.Direct.doLogin` expects:
 * 1. `Expiry` in the past: logout (an ephemeral node is deleted, any other one expires).
 * 2. `OldNodeKey` of a known node of the same machine: key rotation (the node keeps its ID).
 * 3. An auth key: checked and consumed; the node is created or renewed for the key's owner/tags.
 * 4. `Followup`: the long poll of an interactive login; held until the admin approves or rejects.
 * 5. A known, unexpired node: returned as is (a restart).
 * 6. A known node whose key expired: `NodeKeyExpired` (the client rotates its key and comes back).
 * 7. Otherwise: an interactive login, `AuthURL` = `<server>/a/<id>`.
 */

import { formatGoTime, isZeroTime, type RegisterRequestSchema } from '@tsnet/control';
import type { Clock, MachinePublic } from '@tsnet/core';
import type { z } from 'zod';
import type { NodeRec, TailnetState, UserInfo } from './model.js';

type RegisterRequest = z.output<typeof RegisterRequestSchema>;

/** What the HTTP layer answers: a RegisterResponse, or an HTTP error. */
export type RegisterOutcome =
  | { status: 200; body: Record<string, unknown> }
  | { status: number; text: string };

const ok = (body: Record<string, unknown>): RegisterOutcome => ({ status: 200, body });

function userBody(u: UserInfo): Record<string, unknown> {
  return {
    User: { ID: u.id, DisplayName: u.displayName, Created: formatGoTime(u.created) },
    Login: { ID: u.id, Provider: 'testcontrol', LoginName: u.loginName, DisplayName: u.displayName },
  };
}

function authorized(state: TailnetState, n: NodeRec): RegisterOutcome {
  const u = state.user(n.userId) ?? state.defaultUser();
  return ok({ ...userBody(u), MachineAuthorized: true, NodeKeyExpired: false });
}

function hostnameOf(req: RegisterRequest, raw: Record<string, unknown>): string {
  const h = req.Hostinfo?.Hostname ?? (typeof raw.Hostname === 'string' ? raw.Hostname : '');
  return h === '' ? 'node' : h.slice(0, 256);
}

export interface RegisterEnv {
  state: TailnetState;
  clock: Clock;
  machineKey: MachinePublic;
  /** Aborted when the request or the server goes away (ends a Followup wait). */
  signal: AbortSignal;
}

export async function handleRegister(
  env: RegisterEnv,
  req: RegisterRequest,
  rawHostinfo: Record<string, unknown>,
): Promise<RegisterOutcome> {
  const { state, clock, machineKey } = env;
  if (req.Version <= 0) return { status: 400, text: 'zero Version' };
  if (req.NodeKey.isZero()) return { status: 400, text: 'zero NodeKey' };
  const now = clock.wallNow();
  let n = state.nodeByKey(req.NodeKey);
  if (n !== undefined && !n.machineKey.equals(machineKey)) {
    return { status: 403, text: 'node key belongs to another machine' };
  }

  // 1. Logout.
  if (req.Expiry !== undefined && !isZeroTime(req.Expiry) && req.Expiry.getTime() < now) {
    if (n !== undefined) {
      if (n.ephemeral) state.deleteNode(n.id);
      else {
        n.keyExpiry = new Date(now);
        state.changed('logout');
      }
    }
    return ok({});
  }

  // 2. Key rotation.
  let rotated = false;
  if (n === undefined && req.OldNodeKey !== undefined && !req.OldNodeKey.isZero()) {
    const old = state.nodeByKey(req.OldNodeKey);
    if (old?.machineKey.equals(machineKey)) {
      old.nodeKey = req.NodeKey;
      n = old;
      rotated = true;
      state.changed('key-rotated');
    }
  }
  const hostname = hostnameOf(req, rawHostinfo);
  const requestTags = (req.Hostinfo?.RequestTags ?? []).filter((t) => /^tag:[A-Za-z0-9_-]{1,64}$/.test(t));

  // 3. Auth key.
  const authKey = req.Auth?.AuthKey ?? '';
  if (authKey !== '') {
    const k = state.useAuthKey(authKey);
    if (typeof k === 'string') return ok({ Error: k });
    const tags = k.tags.length > 0 ? [...k.tags] : requestTags;
    const userId = tags.length > 0 ? state.ensureUser('tagged-devices', 'Tagged Devices').id : k.userId;
    if (n === undefined) {
      n = state.addNode({
        machineKey,
        nodeKey: req.NodeKey,
        userId,
        hostname,
        hostinfo: rawHostinfo,
        tags,
        ephemeral: k.ephemeral || req.Ephemeral === true,
        cap: req.Version,
      });
    } else {
      n.userId = userId;
      n.tags = tags;
      n.ephemeral = k.ephemeral || n.ephemeral;
      state.renewNode(n);
    }
    return authorized(state, n);
  }

  // 4. Followup: wait for the admin.
  if (req.Followup !== undefined && req.Followup !== '') {
    const l = state.login(req.Followup);
    if (l === undefined) return ok({ Error: 'unknown or expired login URL' });
    const outcome = await state.waitLogin(l, env.signal);
    if (outcome === 'aborted') return { status: 503, text: 'login wait aborted' };
    if (outcome === 'rejected') return ok({ Error: 'login rejected by the administrator' });
    n = state.nodeByKey(req.NodeKey);
    if (n === undefined) {
      n = state.addNode({
        machineKey,
        nodeKey: req.NodeKey,
        userId: l.userId,
        hostname,
        hostinfo: rawHostinfo,
        tags: requestTags,
        ephemeral: req.Ephemeral === true,
        cap: req.Version,
      });
    } else {
      n.userId = l.userId;
      state.renewNode(n);
    }
    state.forgetLogin(l.id);
    return authorized(state, n);
  }

  // 5, 6. A known node.
  if (n?.authorized) {
    if (!state.isExpired(n)) return authorized(state, n);
    if (!rotated) {
      const u = state.user(n.userId) ?? state.defaultUser();
      return ok({ ...userBody(u), MachineAuthorized: true, NodeKeyExpired: true });
    }
  }

  // 7. Interactive login.
  const l = state.startLogin(req.NodeKey, hostname);
  return ok({ AuthURL: l.url, MachineAuthorized: false });
}
