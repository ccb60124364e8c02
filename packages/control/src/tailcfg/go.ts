/**
 * Go `encoding/json` conventions of the `tailcfg` types, as zod building blocks.
 *
 * - `time.Time` is RFC 3339 text; the zero time is `"0001-01-01T00:00:00Z"`. It parses to a `Date`
 *   (JavaScript dates reach year 1), and `isZeroTime` tells the zero time apart, because for some
 *   fields (`Node.KeyExpiry`) zero means "never".
 * - `opt.Bool` is `true`, `false` or `null` (`types/opt/bool.go`): parsed to `boolean | undefined`.
 * - Keys are typed text (`nodekey:`, `mkey:`, `discokey:` + 64 hex): parsed to the key classes of
 *   `@tsnet/core`. An empty string is not a key (Go refuses it too).
 * - `netip.Addr`, `netip.Prefix`, `netip.AddrPort` are their Go text forms: parsed to `IPAddr`,
 *   `IPPrefix`, `AddrPort`.
 * - A nil slice or map without `omitempty` is `null`: `goSlice`/`goMap` accept `null` as absent.
 * - Map keys that are integers in Go (`map[NodeID]bool`, `map[int]*DERPRegion`) are decimal text.
 *
 * Read first: tailscale/tailscale `tailcfg/tailcfg.go`, `types/opt/bool.go`, `types/key/util.go`.
 */
import { AddrPort, DiscoPublic, IPAddr, IPPrefix, MachinePublic, NodePublic } from '@tsnet/core';
import { z } from 'zod';

/** Go's zero `time.Time` in Unix milliseconds (0001-01-01T00:00:00Z). */
export const GO_ZERO_TIME_MS = -62135596800000;

/** The Go zero time as a new `Date`. */
export function goZeroTime(): Date {
  return new Date(GO_ZERO_TIME_MS);
}

/** True if `d` is Go's zero time (or undefined), which several fields use for "never"/"unset". */
export function isZeroTime(d: Date | undefined | null): boolean {
  return d === undefined || d === null || d.getTime() === GO_ZERO_TIME_MS;
}

// RFC 3339 as Go's time.Time.UnmarshalJSON accepts it: a full date, a time with optional
// fractional seconds, and Z or a numeric offset.
const RFC3339_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses RFC 3339 text as Go does; returns `null` for anything else. */
export function parseGoTime(text: string): Date | null {
  const m = RFC3339_RE.exec(text);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  // Date.UTC maps years 0-99 to 1900-1999; set the full year explicitly.
  const date = new Date(t);
  date.setUTCFullYear(Number(y));
  t = date.getTime();
  if (zone !== undefined && zone !== 'Z' && zone !== 'z') {
    const sign = zone[0] === '-' ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  if (!Number.isFinite(t)) return null;
  return new Date(t);
}

/** Formats a `Date` as Go marshals a UTC `time.Time` (no fractional part when it is zero). */
export function formatGoTime(d: Date): string {
  const t = d.getTime();
  if (t === GO_ZERO_TIME_MS) return '0001-01-01T00:00:00Z';
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ, or ±YYYYYY for far years
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}

/** `time.Time` → `Date`. */
export const goTime = z.string().transform((s, ctx) => {
  const d = parseGoTime(s);
  if (d === null) {
    ctx.addIssue({ code: 'custom', message: `invalid RFC 3339 time ${JSON.stringify(s.slice(0, 40))}` });
    return z.NEVER;
  }
  return d;
});

/** `opt.Bool` → `boolean | undefined` (`null` is "explicitly unset"). */
export const optBool = z
  .boolean()
  .nullish()
  .transform((v) => (v === null ? undefined : v));

function textValue<T>(what: string, parse: (s: string) => T) {
  return z.string().transform((s, ctx) => {
    try {
      return parse(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : `invalid ${what}` });
      return z.NEVER;
    }
  });
}

/** A node public key in its text form (`nodekey:<64 hex>`), parsed to a `NodePublic`. */
export const nodePublic = textValue('node public key', NodePublic.parse);
/** A machine public key in its text form (`mkey:<64 hex>`), parsed to a `MachinePublic`. */
export const machinePublic = textValue('machine public key', MachinePublic.parse);
/** A disco public key in its text form (`discokey:<64 hex>`), parsed to a `DiscoPublic`. */
export const discoPublic = textValue('disco public key', DiscoPublic.parse);
/** An IP address in Go's `netip.Addr` text form, parsed to an `IPAddr`. */
export const ipAddr = textValue('IP address', IPAddr.parse);
/** An IP prefix in Go's `netip.Prefix` text form (`100.64.0.1/32`), parsed to an `IPPrefix`. */
export const ipPrefix = textValue('IP prefix', IPPrefix.parse);
/** An `ip:port` (`[v6]:port`) in Go's `netip.AddrPort` text form, parsed to an `AddrPort`. */
export const addrPort = textValue('address and port', AddrPort.parse);

/** An integer that fits a JavaScript number exactly (Go int64 IDs beyond 2^53 are refused). */
export const goInt = z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** A Go `NodeID` / `UserID` (int64). */
export const goID = goInt;

/** A Go slice that may be `null` (nil) or absent: both read as `undefined`. */
export function goSlice<T extends z.ZodType>(item: T) {
  return z
    .array(item)
    .nullish()
    .transform((v) => (v === null ? undefined : v));
}

/** A Go map keyed by strings that may be `null` or absent. */
export function goMap<V extends z.ZodType>(value: V) {
  return z
    .record(z.string(), value)
    .nullish()
    .transform((v) => (v === null ? undefined : v));
}

/** A Go map keyed by integers (decimal text on the wire) → `Map<number, V>`. */
export function goIntMap<V extends z.ZodType>(value: V) {
  return z
    .record(z.string(), value)
    .nullish()
    .transform((rec, ctx) => {
      if (rec === null || rec === undefined) return undefined;
      const out = new Map<number, z.output<V>>();
      for (const [k, v] of Object.entries(rec)) {
        if (!/^-?\d{1,16}$/.test(k)) {
          ctx.addIssue({
            code: 'custom',
            message: `map key ${JSON.stringify(k.slice(0, 20))} is not an integer`,
          });
          return z.NEVER;
        }
        out.set(Number(k), v as z.output<V>);
      }
      return out;
    });
}

/** A string that Go may leave out (`omitempty`): absent reads as `''`. */
export const goString = z.string().optional();
