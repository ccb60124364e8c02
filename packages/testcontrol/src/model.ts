/**
 * The tailnet's state: users, nodes, auth keys, pending interactive logins and the policy. Plain
 * data with the operations control performs on it; every change emits `'change'` so that map
 * sessions can send deltas. No I/O here: register.ts and map.ts speak the protocol, tailnet.ts
 * wires it together.
 *
 * Addresses are allocated sequentially from 100.64.0.0/10 and fd7a:115c:a1e0::/48 (skipping .0 and
 * .255 in the last IPv4 byte), as headscale's `allocation: sequential` does; MagicDNS names are
 * `<label>.<domain>.` with the label made unique by a `-N` suffix.
 */

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  type AddrPort,
  type Clock,
  type DiscoPublic,
  IPAddr,
  IPPrefix,
  type MachinePublic,
  type NodePublic,
} from '@tsnet/core';
import type { Policy, PolicyNode } from './policy.js';

/** A user of the tailnet. */
export interface UserInfo {
  /** The user's ID (`tailcfg.UserID`). */
  readonly id: number;
  /** The login name, e.g. `user@example.com`; `tagged-devices` owns tagged nodes. */
  readonly loginName: string;
  /** The name for display. */
  readonly displayName: string;
  /** When the user was created. */
  readonly created: Date;
}

/** Interactive logins kept waiting at once; the oldest is rejected beyond this. */
export const MAX_PENDING_LOGINS = 1000;

/** The special owner of tagged nodes, as Tailscale shows them. */
export const TAGGED_DEVICES_LOGIN = 'tagged-devices';

export interface AuthKeyOptions {
  /** Owner: a login name or user ID (default: the tailnet's default user). Ignored with `tags`. */
  user?: string | number;
  /** Usable more than once (default false). */
  reusable?: boolean;
  /** Nodes registered with it are ephemeral: deleted on logout or some time after they disconnect. */
  ephemeral?: boolean;
  /** ACL tags for nodes registered with it (the node is owned by `tagged-devices`). */
  tags?: string[];
  /** The key stops working after this many milliseconds. */
  expiresInMs?: number;
}

/** An auth key as the admin API shows it (without the secret). */
export interface AuthKeyInfo {
  /** The key's ID (not the secret). */
  readonly id: string;
  /** The ID of the user that owns nodes registered with the key. */
  readonly userId: number;
  /** Whether the key can register more than one node. */
  readonly reusable: boolean;
  /** Whether nodes registered with it are ephemeral. */
  readonly ephemeral: boolean;
  /** ACL tags given to nodes registered with it. */
  readonly tags: readonly string[];
  /** When the key stops working (`null`: never). */
  readonly expiresAt: Date | null;
  /** Whether the key has been used. */
  readonly used: boolean;
}

interface AuthKeyRec extends AuthKeyInfo {
  readonly secret: string;
  used: boolean;
}

/** A node, internal and mutable. */
export interface NodeRec {
  readonly id: number;
  readonly stableId: string;
  machineKey: MachinePublic;
  nodeKey: NodePublic;
  discoKey: DiscoPublic | undefined;
  userId: number;
  hostname: string;
  /** The first label of the MagicDNS name. */
  label: string;
  readonly addresses: readonly IPPrefix[];
  endpoints: AddrPort[];
  homeDERP: number;
  /** The node's Hostinfo as it sent it (JSON), re-sent to peers. */
  hostinfo: Record<string, unknown>;
  readonly created: Date;
  /** `null` = never expires. */
  keyExpiry: Date | null;
  tags: string[];
  ephemeral: boolean;
  authorized: boolean;
  /** Number of streaming map sessions open. */
  sessions: number;
  lastSeen: Date | null;
  /** The capability version it last spoke. */
  cap: number;
  /** Node capabilities (`Node.CapMap`) set by the admin API. */
  capMap: Record<string, unknown[]>;
}

/** A node as the admin API shows it. */
export interface NodeInfo {
  /** The node's ID (`tailcfg.NodeID`). */
  readonly id: number;
  /** The node's stable ID (`tailcfg.StableNodeID`). */
  readonly stableId: string;
  /** The node's MagicDNS name with a trailing dot: `host.tailnet.test.` */
  readonly name: string;
  /** The host name the node asked for. */
  readonly hostname: string;
  /** The node's public key (`nodekey:…`). */
  readonly nodeKey: string;
  /** The node's machine key (`mkey:…`). */
  readonly machineKey: string;
  /** The node's disco key (`discokey:…`), or `null` before it sent one. */
  readonly discoKey: string | null;
  /** The user that owns the node (`tagged-devices` for a tagged node). */
  readonly user: UserInfo;
  /** The node's Tailscale addresses (`100.64.0.1/32`, `fd7a:115c:a1e0::1/128`). */
  readonly addresses: readonly string[];
  /** The UDP endpoints the node reported. */
  readonly endpoints: readonly string[];
  /** The node's home DERP region (0: none yet). */
  readonly homeDERP: number;
  /** The node's ACL tags. */
  readonly tags: readonly string[];
  /** Whether the node is ephemeral. */
  readonly ephemeral: boolean;
  /** Whether the node has a map session open now. */
  readonly online: boolean;
  /** Whether the node is authorized (admitted to the tailnet). */
  readonly authorized: boolean;
  /** Whether the node's key has expired. */
  readonly expired: boolean;
  /** When the node's key expires (`null`: never). */
  readonly keyExpiry: Date | null;
  /** When the node was last online (`null`: never, or online now). */
  readonly lastSeen: Date | null;
  /** The node's capabilities (`Node.CapMap`). */
  readonly capMap: Readonly<Record<string, unknown[]>>;
}

/** An interactive login waiting for approval. */
export interface PendingLogin {
  /** The login's ID (use it with `approveLogin` or `rejectLogin`). */
  readonly id: string;
  /** The AuthURL the node was given. */
  readonly url: string;
  /** The node key waiting to be logged in. */
  readonly nodeKey: string;
  /** The host name the node asked for. */
  readonly hostname: string;
  /** When the login started. */
  readonly created: Date;
}

interface LoginRec extends PendingLogin {
  state: 'pending' | 'approved' | 'rejected';
  userId: number;
  readonly waiters: Set<() => void>;
}

export interface TailnetStateOptions {
  clock: Clock;
  domain: string;
  baseURL: () => string;
  defaultUser: string;
  /** Key lifetime of new untagged nodes (`null` = never expire). */
  keyExpiryMs: number | null;
  /** Capabilities every node gets unless the admin API sets its own. */
  defaultCapMap: Record<string, unknown[]>;
}

function sanitizeLabel(hostname: string): string {
  const s = hostname
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/g, '');
  return s === '' ? 'node' : s;
}

export class TailnetState extends EventEmitter {
  readonly #opts: TailnetStateOptions;
  readonly #users = new Map<number, UserInfo>();
  readonly #nodes = new Map<number, NodeRec>();
  readonly #keys = new Map<string, AuthKeyRec>();
  readonly #logins = new Map<string, LoginRec>();
  #nextUserId = 1;
  #nextNodeId = 1;
  #nextAddr = 1;
  #policy: Policy | null = null;
  #generation = 0;

  constructor(opts: TailnetStateOptions) {
    super();
    this.setMaxListeners(0);
    this.#opts = opts;
    this.ensureUser(opts.defaultUser);
  }

  get domain(): string {
    return this.#opts.domain;
  }
  get policy(): Policy | null {
    return this.#policy;
  }
  /** Bumped on every change. */
  get generation(): number {
    return this.#generation;
  }

  /** Announces a change to map sessions and waiters. */
  changed(reason: string): void {
    this.#generation++;
    this.emit('change', reason);
  }

  // ---- users ----

  ensureUser(loginName: string, displayName?: string): UserInfo {
    for (const u of this.#users.values()) if (u.loginName === loginName) return u;
    const u: UserInfo = {
      id: this.#nextUserId++,
      loginName,
      displayName: displayName ?? loginName.split('@')[0] ?? loginName,
      created: new Date(this.#opts.clock.wallNow()),
    };
    this.#users.set(u.id, u);
    this.changed('user');
    return u;
  }

  user(ref: string | number): UserInfo | undefined {
    if (typeof ref === 'number') return this.#users.get(ref);
    for (const u of this.#users.values()) if (u.loginName === ref) return u;
    return undefined;
  }

  users(): UserInfo[] {
    return [...this.#users.values()];
  }

  defaultUser(): UserInfo {
    return this.ensureUser(this.#opts.defaultUser);
  }

  // ---- auth keys ----

  createAuthKey(o: AuthKeyOptions = {}): string {
    const tags = o.tags ?? [];
    for (const t of tags)
      if (!/^tag:[A-Za-z0-9_-]{1,64}$/.test(t)) throw new RangeError(`invalid tag ${JSON.stringify(t)}`);
    let userId: number;
    if (tags.length > 0) userId = this.ensureUser(TAGGED_DEVICES_LOGIN, 'Tagged Devices').id;
    else if (o.user === undefined) userId = this.defaultUser().id;
    else {
      const u = typeof o.user === 'number' ? this.#users.get(o.user) : this.ensureUser(o.user);
      if (u === undefined) throw new RangeError(`no user with ID ${String(o.user)}`);
      userId = u.id;
    }
    if (o.expiresInMs !== undefined && !(o.expiresInMs > 0)) throw new RangeError('expiresInMs must be > 0');
    const id = randomBytes(6).toString('hex');
    const secret = `tskey-auth-${id}-${randomBytes(24).toString('hex')}`;
    this.#keys.set(secret, {
      id,
      secret,
      userId,
      reusable: o.reusable ?? false,
      ephemeral: o.ephemeral ?? false,
      tags: [...tags],
      expiresAt: o.expiresInMs === undefined ? null : new Date(this.#opts.clock.wallNow() + o.expiresInMs),
      used: false,
    });
    return secret;
  }

  authKeys(): AuthKeyInfo[] {
    return [...this.#keys.values()].map(({ secret: _s, ...info }) => ({ ...info }));
  }

  /** Checks and consumes an auth key; returns the key or the error text the client will see. */
  useAuthKey(secret: string): AuthKeyInfo | string {
    const k = this.#keys.get(secret);
    if (k === undefined) return 'invalid auth key';
    if (k.expiresAt !== null && k.expiresAt.getTime() <= this.#opts.clock.wallNow())
      return 'auth key expired';
    if (k.used && !k.reusable) return 'auth key already used';
    k.used = true;
    return k;
  }

  // ---- nodes ----

  #allocAddresses(): IPPrefix[] {
    for (;;) {
      const n = this.#nextAddr++;
      if (n >= 1 << 22) throw new RangeError('address space of 100.64.0.0/10 exhausted');
      const low = n & 0xff;
      if (low === 0 || low === 255) continue;
      const v4 = IPAddr.fromBytes(Uint8Array.of(100, 64 | ((n >> 16) & 0x3f), (n >> 8) & 0xff, low));
      const v6b = Uint8Array.of(
        0xfd,
        0x7a,
        0x11,
        0x5c,
        0xa1,
        0xe0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        (n >> 16) & 0xff,
        (n >> 8) & 0xff,
        low,
      );
      return [new IPPrefix(v4, 32), new IPPrefix(IPAddr.fromBytes(v6b), 128)];
    }
  }

  #uniqueLabel(hostname: string, except?: number): string {
    const base = sanitizeLabel(hostname);
    const taken = new Set<string>();
    for (const n of this.#nodes.values()) if (n.id !== except) taken.add(n.label);
    if (!taken.has(base)) return base;
    for (let i = 1; ; i++) {
      const l = `${base.slice(0, 60)}-${i}`;
      if (!taken.has(l)) return l;
    }
  }

  addNode(init: {
    machineKey: MachinePublic;
    nodeKey: NodePublic;
    userId: number;
    hostname: string;
    hostinfo: Record<string, unknown>;
    tags: string[];
    ephemeral: boolean;
    cap: number;
  }): NodeRec {
    const id = this.#nextNodeId++;
    const now = this.#opts.clock.wallNow();
    const n: NodeRec = {
      id,
      stableId: `TESTNODE${id.toString(16).padStart(8, '0')}`,
      machineKey: init.machineKey,
      nodeKey: init.nodeKey,
      discoKey: undefined,
      userId: init.userId,
      hostname: init.hostname,
      label: this.#uniqueLabel(init.hostname),
      addresses: this.#allocAddresses(),
      endpoints: [],
      homeDERP: 0,
      hostinfo: init.hostinfo,
      created: new Date(now),
      keyExpiry:
        init.tags.length > 0 || this.#opts.keyExpiryMs === null
          ? null
          : new Date(now + this.#opts.keyExpiryMs),
      tags: init.tags,
      ephemeral: init.ephemeral,
      authorized: true,
      sessions: 0,
      lastSeen: null,
      cap: init.cap,
      capMap: structuredClone(this.#opts.defaultCapMap),
    };
    this.#nodes.set(id, n);
    this.changed('node-added');
    return n;
  }

  /** Renews a known node's key lifetime after a fresh login. */
  renewNode(n: NodeRec): void {
    const now = this.#opts.clock.wallNow();
    n.keyExpiry =
      n.tags.length > 0 || this.#opts.keyExpiryMs === null ? null : new Date(now + this.#opts.keyExpiryMs);
    n.authorized = true;
    this.changed('node-renewed');
  }

  /** Sets the hostname (and MagicDNS label) of a node. */
  setHostname(n: NodeRec, hostname: string): void {
    if (hostname === '' || hostname === n.hostname) return;
    n.hostname = hostname;
    n.label = this.#uniqueLabel(hostname, n.id);
  }

  node(id: number): NodeRec | undefined {
    return this.#nodes.get(id);
  }

  nodeByKey(key: NodePublic): NodeRec | undefined {
    for (const n of this.#nodes.values()) if (n.nodeKey.equals(key)) return n;
    return undefined;
  }

  nodeByMachine(key: MachinePublic): NodeRec[] {
    return [...this.#nodes.values()].filter((n) => n.machineKey.equals(key));
  }

  nodes(): NodeRec[] {
    return [...this.#nodes.values()];
  }

  deleteNode(id: number): boolean {
    const ok = this.#nodes.delete(id);
    if (ok) this.changed('node-deleted');
    return ok;
  }

  isExpired(n: NodeRec): boolean {
    return n.keyExpiry !== null && n.keyExpiry.getTime() <= this.#opts.clock.wallNow();
  }

  /** The MagicDNS name with its trailing dot. */
  fqdn(n: NodeRec): string {
    return `${n.label}.${this.#opts.domain}.`;
  }

  policyNode(n: NodeRec): PolicyNode {
    return {
      id: n.id,
      hostname: n.hostname,
      addresses: n.addresses,
      tags: n.tags,
      userLogin: n.tags.length > 0 ? '' : (this.#users.get(n.userId)?.loginName ?? ''),
    };
  }

  info(n: NodeRec): NodeInfo {
    return {
      id: n.id,
      stableId: n.stableId,
      name: this.fqdn(n),
      hostname: n.hostname,
      nodeKey: n.nodeKey.toString(),
      machineKey: n.machineKey.toString(),
      discoKey: n.discoKey?.toString() ?? null,
      user: this.#users.get(n.userId) ?? this.defaultUser(),
      addresses: n.addresses.map((a) => a.addr.toString()),
      endpoints: n.endpoints.map((e) => e.toString()),
      homeDERP: n.homeDERP,
      tags: [...n.tags],
      ephemeral: n.ephemeral,
      online: n.sessions > 0,
      authorized: n.authorized,
      expired: this.isExpired(n),
      keyExpiry: n.keyExpiry,
      lastSeen: n.lastSeen,
      capMap: structuredClone(n.capMap),
    };
  }

  setPolicy(p: Policy | null): void {
    this.#policy = p;
    this.changed('policy');
  }

  // ---- interactive logins ----

  /** Starts (or finds) the pending login of `nodeKey`. */
  startLogin(nodeKey: NodePublic, hostname: string): PendingLogin {
    const nk = nodeKey.toString();
    for (const l of this.#logins.values()) if (l.nodeKey === nk && l.state === 'pending') return l;
    // Bounded: anyone who can reach the server can start logins with fresh node keys.
    const pending = [...this.#logins.values()].filter((l) => l.state === 'pending');
    if (pending.length >= MAX_PENDING_LOGINS) {
      const oldest = pending[0]!;
      this.settleLogin(oldest.id, 'rejected');
      this.#logins.delete(oldest.id);
    }
    const id = randomBytes(16).toString('hex');
    const rec: LoginRec = {
      id,
      url: `${this.#opts.baseURL()}/a/${id}`,
      nodeKey: nk,
      hostname,
      created: new Date(this.#opts.clock.wallNow()),
      state: 'pending',
      userId: 0,
      waiters: new Set(),
    };
    this.#logins.set(id, rec);
    this.changed('login-pending');
    return rec;
  }

  /** Finds a login by its ID or its AuthURL (or the URL's path). */
  login(ref: string): LoginRec | undefined {
    const m = /\/a\/([0-9a-f]{32})\/?$/.exec(ref);
    return this.#logins.get(m?.[1] ?? ref);
  }

  pendingLogins(): PendingLogin[] {
    return [...this.#logins.values()]
      .filter((l) => l.state === 'pending')
      .map(({ id, url, nodeKey, hostname, created }) => ({ id, url, nodeKey, hostname, created }));
  }

  /** Approves (with `userId`) or rejects a pending login. Returns false if there is none. */
  settleLogin(ref: string, outcome: { userId: number } | 'rejected'): boolean {
    const l = this.login(ref);
    if (l === undefined || l.state !== 'pending') return false;
    if (outcome === 'rejected') l.state = 'rejected';
    else {
      l.state = 'approved';
      l.userId = outcome.userId;
    }
    for (const w of l.waiters) w();
    l.waiters.clear();
    this.changed('login-settled');
    return true;
  }

  /** Resolves when the login is settled, or `signal` aborts (then with `'aborted'`). */
  waitLogin(l: LoginRec, signal: AbortSignal): Promise<'approved' | 'rejected' | 'aborted'> {
    if (l.state !== 'pending') return Promise.resolve(l.state);
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', onAbort);
        l.waiters.delete(done);
        resolve(l.state === 'pending' ? 'aborted' : l.state);
      };
      const onAbort = () => done();
      if (signal.aborted) {
        resolve('aborted');
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      l.waiters.add(done);
    });
  }

  /** Forgets a settled login once its node has consumed it. */
  forgetLogin(id: string): void {
    this.#logins.delete(id);
  }
}
