/**
 * A fast decoder for the one type that comes by the thousand: `Node` (with its `Hostinfo`). zod
 * costs about half a microsecond per *declared* field even when the field is absent, so a
 * 10,000-peer map took over a second. This decoder walks only the fields *present* in the input,
 * driven by tables that mirror the zod schemas in ./node.ts field for field; the zod schemas stay
 * the specification, and a property test (fast.test.ts) checks that both give the same value and
 * refuse the same inputs. Unknown fields are dropped, as with zod.
 */
import { AddrPort, DiscoPublic, IPAddr, IPPrefix, MachinePublic, NodePublic } from '@tsnet/core';
import type { z } from 'zod';
import { GO_ZERO_TIME_MS, parseGoTime } from './go.js';
import type { Hostinfo, Node } from './node.js';

/** A decoding failure at `path` (relative to the value being decoded). */
export class FieldError extends Error {
  constructor(
    readonly path: PropertyKey[],
    message: string,
  ) {
    super(message);
  }
}

type Dec = (v: unknown) => unknown;
type Table = Record<string, Dec>;

const fail = (msg: string): never => {
  throw new FieldError([], msg);
};
const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const expected = (what: string, v: unknown): never =>
  fail(`Invalid input: expected ${what}, received ${typeName(v)}`);

const str: Dec = (v) => (typeof v === 'string' ? v : expected('string', v));
const bool: Dec = (v) => (typeof v === 'boolean' ? v : expected('boolean', v));
const num: Dec = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : expected('number', v));
const int: Dec = (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : expected('int', v));
const port: Dec = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535 ? v : expected('port', v);
const nullish =
  (d: Dec): Dec =>
  (v) =>
    v === null || v === undefined ? undefined : d(v);
const nullableStr: Dec = (v) => (v === null ? null : str(v));
const text =
  (parse: (s: string) => unknown): Dec =>
  (v) => {
    if (typeof v !== 'string') return expected('string', v);
    try {
      return parse(v);
    } catch (e) {
      return fail((e as Error).message);
    }
  };
const GO_ZERO_TEXT = '0001-01-01T00:00:00Z';
const time: Dec = (v) => {
  if (v === GO_ZERO_TEXT) return new Date(GO_ZERO_TIME_MS); // the common case: no regex
  if (typeof v !== 'string') return expected('string', v);
  return parseGoTime(v) ?? fail(`invalid RFC 3339 time ${JSON.stringify(v.slice(0, 40))}`);
};
const list =
  (item: Dec): Dec =>
  (v) => {
    if (v === null || v === undefined) return undefined;
    if (!Array.isArray(v)) return expected('array', v);
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      try {
        out[i] = item(v[i]);
      } catch (e) {
        if (e instanceof FieldError) e.path.unshift(i);
        throw e;
      }
    }
    return out;
  };
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const record =
  (value: Dec): Dec =>
  (v) => {
    if (v === null || v === undefined) return undefined;
    if (!isRecord(v)) return expected('record', v);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      try {
        const r = value(v[k]);
        if (k === '__proto__')
          Object.defineProperty(out, k, { value: r, enumerable: true, writable: true, configurable: true });
        else out[k] = r;
      } catch (e) {
        if (e instanceof FieldError) e.path.unshift(k);
        throw e;
      }
    }
    return out;
  };
const capMap = record((v) => (v === null ? [] : Array.isArray(v) ? v : expected('array', v)));

function object(table: Table, required: readonly string[] = []): Dec {
  return (v) => {
    if (!isRecord(v)) return expected('object', v);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) {
      const d = table[k];
      if (d === undefined || !Object.hasOwn(table, k)) continue;
      try {
        const r = d(v[k]);
        if (r !== undefined) out[k] = r;
      } catch (e) {
        if (e instanceof FieldError) e.path.unshift(k);
        throw e;
      }
    }
    for (const k of required) {
      if (!(k in out)) throw new FieldError([k], 'Invalid input: expected a value, received undefined');
    }
    return out;
  };
}
const optionalStrict =
  (d: Dec): Dec =>
  (v) =>
    v === undefined ? undefined : d(v);

const optBool: Dec = nullish(bool);
const service = object({ Proto: str, Port: port, Description: str }, ['Proto', 'Port']);
const location = object({
  Country: str,
  CountryCode: str,
  City: str,
  CityCode: str,
  Latitude: num,
  Longitude: num,
  Priority: int,
});
const netInfo = object({
  MappingVariesByDestIP: optBool,
  WorkingIPv6: optBool,
  OSHasIPv6: optBool,
  WorkingUDP: optBool,
  WorkingICMPv4: optBool,
  HavePortMap: bool,
  UPnP: optBool,
  PMP: optBool,
  PCP: optBool,
  PreferredDERP: int,
  LinkType: str,
  DERPLatency: record(num),
  FirewallMode: str,
});
const strings = list(str);
const prefixes = list(text(IPPrefix.parse));

const hostinfoTable: Table = {
  RoutableIPs: prefixes,
  RequestTags: strings,
  WoLMACs: strings,
  Services: list(service),
  NetInfo: nullish(netInfo),
  sshHostKeys: strings,
  Location: nullish(location),
};
for (const k of ['Container', 'Desktop', 'Userspace', 'UserspaceRouter', 'AppConnector', 'StateEncrypted']) {
  hostinfoTable[k] = optBool;
}
for (const k of [
  'ShieldsUp',
  'ShareeNode',
  'NoLogsNoSupport',
  'WireIngress',
  'IngressEnabled',
  'AllowsUpdate',
  'PeerRelay',
]) {
  hostinfoTable[k] = optionalStrict(bool);
}
for (const k of [
  'IPNVersion',
  'FrontendLogID',
  'BackendLogID',
  'OS',
  'OSVersion',
  'Env',
  'Distro',
  'DistroVersion',
  'DistroCodeName',
  'App',
  'Package',
  'DeviceModel',
  'Hostname',
  'Machine',
  'GoArch',
  'GoArchVar',
  'GoVersion',
  'Cloud',
  'ServicesHash',
  'ExitNodeID',
]) {
  hostinfoTable[k] = str;
}
const hostinfo = object(hostinfoTable);

const nodeTable: Table = {
  ID: int,
  StableID: str,
  Name: str,
  User: int,
  Sharer: int,
  Key: text(NodePublic.parse),
  KeyExpiry: time,
  KeySignature: nullableStr,
  Machine: text(MachinePublic.parse),
  DiscoKey: text(DiscoPublic.parse),
  Addresses: prefixes,
  AllowedIPs: prefixes,
  Endpoints: list(text(AddrPort.parse)),
  DERP: str,
  HomeDERP: int,
  Hostinfo: nullish(hostinfo),
  Created: time,
  Cap: int,
  Tags: strings,
  PrimaryRoutes: prefixes,
  LastSeen: nullish(time),
  Online: nullish(bool),
  MachineAuthorized: bool,
  Capabilities: strings,
  CapMap: capMap,
  UnsignedPeerAPIOnly: bool,
  ComputedName: str,
  ComputedNameWithHost: str,
  DataPlaneAuditLogID: str,
  Expired: bool,
  SelfNodeV4MasqAddrForThisPeer: nullish(text(IPAddr.parse)),
  SelfNodeV6MasqAddrForThisPeer: nullish(text(IPAddr.parse)),
  IsWireGuardOnly: bool,
  IsJailed: bool,
};
const { AllowedIPs: allowedIPsDec, ...nodeTableRest } = nodeTable;
const nodeDecRest = object(nodeTableRest, ['ID', 'Key']);

function sameStrings(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] || typeof a[i] !== 'string') return false;
  return true;
}

/** Decodes a `Node`; throws `FieldError` with the path of the bad field. */
export function decodeNode(v: unknown): Node {
  const n = nodeDecRest(v) as Node;
  const raw = v as { Addresses?: unknown; AllowedIPs?: unknown };
  if (raw.AllowedIPs === undefined) return n;
  // AllowedIPs is almost always the same text as Addresses: share the (immutable) parsed values
  // instead of parsing and allocating them twice.
  if (n.Addresses !== undefined && sameStrings(raw.Addresses, raw.AllowedIPs)) {
    n.AllowedIPs = n.Addresses.slice();
    return n;
  }
  try {
    const r = allowedIPsDec!(raw.AllowedIPs) as Node['AllowedIPs'];
    if (r !== undefined) n.AllowedIPs = r;
  } catch (e) {
    if (e instanceof FieldError) e.path.unshift('AllowedIPs');
    throw e;
  }
  return n;
}

/** Decodes a `Hostinfo`; throws `FieldError`. */
export function decodeHostinfo(v: unknown): Hostinfo {
  return hostinfo(v) as Hostinfo;
}

/** Decodes a list of nodes that may be `null` or contain `null`s (dropped). */
export function decodeNodeList(v: unknown): Node[] | undefined {
  return (list((x) => (x === null ? null : decodeNode(x)))(v) as Array<Node | null> | undefined)?.filter(
    (n): n is Node => n !== null,
  );
}

/** zod-compatible wrapper so the fast decoders can sit inside zod schemas. */
export function asZodTransform<T>(dec: (v: unknown) => T) {
  return (v: unknown, ctx: z.RefinementCtx): T => {
    try {
      return dec(v);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      ctx.addIssue({ code: 'custom', message: e.message, path: e.path });
      return undefined as never;
    }
  };
}
