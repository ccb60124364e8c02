/**
 * `tailcfg.DNSConfig`, `DNSRecord` and `dnstype.Resolver` (tailscale/tailscale
 * `tailcfg/tailcfg.go`, `types/dnstype/dnstype.go`). headscale fills `Proxied` (MagicDNS),
 * `Domains`, resolvers, split-DNS `Routes` and `ExtraRecords`, never `CertDomains`.
 */
import { z } from 'zod';
import { goMap, goSlice, ipAddr } from './go.js';

/** `dnstype.Resolver`: `Addr` is an IP, `IP:port`, or a DoH/DoT URL. */
export const ResolverSchema = z.object({
  /** The resolver: an IP, `IP:port`, or a DoH (`https://…`) or DoT URL. */
  Addr: z.string().optional(),
  /** IPs of a DoH/DoT resolver's host, so it can be reached without DNS. */
  BootstrapResolution: goSlice(ipAddr),
  /** Whether to keep using this resolver while an exit node is in use. */
  UseWithExitNode: z.boolean().optional(),
});
/** A `dnstype.Resolver`, as parsed by `ResolverSchema`. */
export type Resolver = z.output<typeof ResolverSchema>;

const resolvers = goSlice(ResolverSchema.nullable()).transform((v) =>
  v?.filter((r): r is Resolver => r !== null),
);

/** `tailcfg.DNSRecord`. */
export const DNSRecordSchema = z.object({
  /** The record's fully qualified name. */
  Name: z.string(),
  /** The record type: `A` or `AAAA` (empty: inferred from `Value`). */
  Type: z.string().optional(),
  /** The record's value, e.g. an IP address. */
  Value: z.string(),
});
/** A `tailcfg.DNSRecord`, as parsed by `DNSRecordSchema`. */
export type DNSRecord = z.output<typeof DNSRecordSchema>;

/** `tailcfg.DNSConfig`. A `Routes` entry with an empty list means "use the default resolvers". */
export const DNSConfigSchema = z.object({
  /** The resolvers to use for names no route matches. */
  Resolvers: resolvers,
  /** Split DNS: domain suffix → resolvers for names under it (an empty list: the default resolvers). */
  Routes: goMap(resolvers).transform((m) => {
    if (m === undefined) return undefined;
    const out: Record<string, Resolver[]> = {};
    for (const [k, v] of Object.entries(m)) out[k] = v ?? [];
    return out;
  }),
  /** Resolvers to use when `Resolvers` is empty and the OS has none either. */
  FallbackResolvers: resolvers,
  /** Search domains. */
  Domains: goSlice(z.string()),
  /** Whether MagicDNS is on: the node answers names of the tailnet itself. */
  Proxied: z.boolean().optional(),
  /** Deprecated list of nameserver IPs; `Resolvers` replaces it. */
  Nameservers: goSlice(ipAddr),
  /** The DNS names this node may get TLS certificates for. */
  CertDomains: goSlice(z.string()),
  /** Extra records MagicDNS answers, beyond the tailnet's nodes. */
  ExtraRecords: goSlice(DNSRecordSchema),
  /** Domains whose records are not sent to peers that use this node as an exit node. */
  ExitNodeFilteredSet: goSlice(z.string()),
});
/** A `tailcfg.DNSConfig`, as parsed by `DNSConfigSchema`. */
export type DNSConfig = z.output<typeof DNSConfigSchema>;
