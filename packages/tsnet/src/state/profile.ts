/**
 * A node's identity in a `StateStore`, in the key layout of Go's tailscaled/tsnet
 * (`ipn/store.go`, `ipn/ipnlocal/profiles.go`; protocol-map §10.4), so a state directory written by
 * Go tsnet opens here and ours opens in Go:
 *
 * | key | value |
 * |---|---|
 * | `_machinekey` | `privkey:<hex>` |
 * | `_current-profile` | `profile-<id>` |
 * | `_profiles` | JSON `{ "<id>": LoginProfile }` |
 * | `profile-<id>` | JSON `ipn.Prefs`, the node key under `Config.PrivateNodeKey` |
 *
 * Fields of Go's JSON that this project does not use are kept as they were when a profile is
 * written back.
 */
import { randomBytes } from 'node:crypto';
import { MachinePrivate, NodePrivate } from '@tsnet/core';
import { type StateStore, StateStoreError } from './store.js';

export const MACHINE_KEY = '_machinekey';
export const CURRENT_PROFILE_KEY = '_current-profile';
export const PROFILES_KEY = '_profiles';

/** Who the control server says we are (Go's `tailcfg.UserProfile`, the fields we keep). */
export interface StoredUser {
  /** Control's user ID. */
  ID?: number | undefined;
  /** The login name (`alice@example.com`). */
  LoginName?: string | undefined;
  /** The display name. */
  DisplayName?: string | undefined;
}

/** One login profile: the node key and what we learned from control. */
export interface Profile {
  /** Four hex digits, as Go's `newUnusedID`. */
  id: string;
  /** The control server this profile is logged in to (`Prefs.ControlURL`). */
  controlUrl: string;
  /** The host name asked for (`Prefs.Hostname`). */
  hostname: string;
  /** Absent until registration succeeded. */
  nodeKey: NodePrivate | undefined;
  /** The key `nodeKey` replaced at a forced re-login (`Config.OldPrivateNodeKey`). */
  oldNodeKey: NodePrivate | undefined;
  /** True after a logout: the next start needs a login (`Prefs.LoggedOut`). */
  loggedOut: boolean;
  /** Control's stable node ID. */
  nodeId: string | undefined;
  /** The user control says owns the node. */
  user: StoredUser | undefined;
  /** Tags asked for (`Prefs.AdvertiseTags`). */
  advertiseTags: string[];
  /** The MagicDNS name, when known. */
  name: string | undefined;
}

/** What a store held. */
export interface LoadedState {
  /** `_machinekey`, if the store has one. */
  machineKey: MachinePrivate | undefined;
  /** The profile `_current-profile` names, if any. */
  profile: Profile | undefined;
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

function zeroKeyText(): string {
  return `privkey:${'0'.repeat(64)}`;
}

function isZeroKeyText(s: unknown): boolean {
  return typeof s !== 'string' || s === '' || /^privkey:0{64}$/.test(s);
}

async function getText(store: StateStore, key: string): Promise<string | undefined> {
  let v: Uint8Array | undefined;
  try {
    v = await store.get(key);
  } catch (err) {
    throw new StateStoreError(`state store: reading ${key}: ${(err as Error).message}`, { cause: err });
  }
  if (v === undefined || v.length === 0) return undefined;
  try {
    return td.decode(v);
  } catch (err) {
    throw new StateStoreError(`state store: ${key} is not UTF-8 text`, { cause: err });
  }
}

async function getJson(store: StateStore, key: string): Promise<Record<string, unknown> | undefined> {
  const text = await getText(store, key);
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new StateStoreError(`state store: ${key} is not JSON`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new StateStoreError(`state store: ${key} is not a JSON object`);
  }
  return v as Record<string, unknown>;
}

async function put(store: StateStore, key: string, value: string): Promise<void> {
  try {
    await store.set(key, te.encode(value));
  } catch (err) {
    if (err instanceof StateStoreError) throw err;
    throw new StateStoreError(`state store: writing ${key}: ${(err as Error).message}`, { cause: err });
  }
}

function parseKey<T>(parse: (s: string) => T, text: string, what: string): T {
  try {
    return parse(text);
  } catch (err) {
    // The message of a key parse error never contains the key (core redacts it).
    throw new StateStoreError(`state store: ${what} is not a private key`, { cause: err });
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Reads the machine key and the current profile (either may be absent). */
export async function loadState(store: StateStore): Promise<LoadedState> {
  const mk = await getText(store, MACHINE_KEY);
  const machineKey =
    mk === undefined || isZeroKeyText(mk.trim())
      ? undefined
      : parseKey((s) => MachinePrivate.parse(s), mk.trim(), MACHINE_KEY);
  const current = await getText(store, CURRENT_PROFILE_KEY);
  if (current === undefined) return { machineKey, profile: undefined };
  const prefs = await getJson(store, current);
  if (prefs === undefined) return { machineKey, profile: undefined };
  const cfg = (typeof prefs.Config === 'object' && prefs.Config !== null ? prefs.Config : {}) as Record<
    string,
    unknown
  >;
  const profiles = (await getJson(store, PROFILES_KEY)) ?? {};
  const id = current.replace(/^profile-/, '');
  const lp = (profiles[id] ?? {}) as Record<string, unknown>;
  const user = (cfg.UserProfile ?? lp.UserProfile) as StoredUser | undefined;
  const network = (lp.NetworkProfile ?? {}) as Record<string, unknown>;
  return {
    machineKey,
    profile: {
      id,
      controlUrl: str(prefs.ControlURL) ?? str(lp.ControlURL) ?? '',
      hostname: str(prefs.Hostname) ?? '',
      nodeKey: isZeroKeyText(cfg.PrivateNodeKey)
        ? undefined
        : parseKey(
            (s) => NodePrivate.parse(s),
            cfg.PrivateNodeKey as string,
            `${current} Config.PrivateNodeKey`,
          ),
      oldNodeKey: isZeroKeyText(cfg.OldPrivateNodeKey)
        ? undefined
        : parseKey(
            (s) => NodePrivate.parse(s),
            cfg.OldPrivateNodeKey as string,
            `${current} Config.OldPrivateNodeKey`,
          ),
      loggedOut: prefs.LoggedOut === true,
      nodeId: str(cfg.NodeID) ?? str(lp.NodeID),
      user: typeof user === 'object' && user !== null ? user : undefined,
      advertiseTags: Array.isArray(prefs.AdvertiseTags)
        ? prefs.AdvertiseTags.filter((t): t is string => typeof t === 'string')
        : [],
      name: str(network.MagicDNSName),
    },
  };
}

/** Stores the machine key (Go's text form). */
export async function saveMachineKey(store: StateStore, key: MachinePrivate): Promise<void> {
  await put(store, MACHINE_KEY, key.marshalText());
}

/** A new profile with a fresh 4-hex-digit ID. */
export function newProfile(controlUrl: string, hostname: string, advertiseTags: string[] = []): Profile {
  return {
    id: randomBytes(2).toString('hex'),
    controlUrl,
    hostname,
    nodeKey: undefined,
    oldNodeKey: undefined,
    loggedOut: false,
    nodeId: undefined,
    user: undefined,
    advertiseTags,
    name: undefined,
  };
}

/**
 * Writes the profile (prefs with the node key, the profile list entry, the current-profile
 * pointer), keeping any fields an earlier writer (Go) put there that we do not manage.
 */
export async function saveProfile(store: StateStore, p: Profile): Promise<void> {
  const key = `profile-${p.id}`;
  const prefs = (await getJson(store, key).catch(() => undefined)) ?? {};
  const cfg = (typeof prefs.Config === 'object' && prefs.Config !== null ? prefs.Config : {}) as Record<
    string,
    unknown
  >;
  Object.assign(cfg, {
    PrivateNodeKey: p.nodeKey?.marshalText() ?? zeroKeyText(),
    OldPrivateNodeKey: p.oldNodeKey?.marshalText() ?? zeroKeyText(),
    UserProfile: p.user ?? {},
    NodeID: p.nodeId ?? '',
  });
  Object.assign(prefs, {
    ControlURL: p.controlUrl,
    WantRunning: !p.loggedOut,
    LoggedOut: p.loggedOut,
    Hostname: p.hostname,
    AdvertiseTags: p.advertiseTags.length > 0 ? p.advertiseTags : null,
    Config: cfg,
  });
  await put(store, key, JSON.stringify(prefs));
  const profiles = (await getJson(store, PROFILES_KEY).catch(() => undefined)) ?? {};
  const lp = (profiles[p.id] ?? {}) as Record<string, unknown>;
  const network = (
    typeof lp.NetworkProfile === 'object' && lp.NetworkProfile !== null ? lp.NetworkProfile : {}
  ) as Record<string, unknown>;
  if (p.name !== undefined) network.MagicDNSName = p.name;
  profiles[p.id] = Object.assign(lp, {
    ID: p.id,
    Name: p.user?.LoginName ?? '',
    NetworkProfile: network,
    Key: key,
    UserProfile: p.user ?? {},
    NodeID: p.nodeId ?? '',
    ControlURL: p.controlUrl,
  });
  await put(store, PROFILES_KEY, JSON.stringify(profiles));
  await put(store, CURRENT_PROFILE_KEY, key);
}
