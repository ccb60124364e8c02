/**
 * `tailcfg.DNSConfig`, `DNSRecord` and `dnstype.Resolver` (tailscale/tailscale
 * `tailcfg/tailcfg.go`, `types/dnstype/dnstype.go`). headscale fills `Proxied` (MagicDNS),
 * `Domains`, resolvers, split-DNS `Routes` and `ExtraRecords`, never `CertDomains`.
 */
import { z } from 'zod';
import { goMap, goSlice, ipAddr } from './go.js';

/** `dnstype.Resolver`: `Addr` is an IP, `IP:port`, or a DoH/DoT URL. */
export const ResolverSchema = z.object({
  Addr: z.string().optional(),
  BootstrapResolution: goSlice(ipAddr),
  UseWithExitNode: z.boolean().optional(),
});
export type Resolver = z.output<typeof ResolverSchema>;

const resolvers = goSlice(ResolverSchema.nullable()).transform((v) =>
  v?.filter((r): r is Resolver => r !== null),
);

/** `tailcfg.DNSRecord`. */
export const DNSRecordSchema = z.object({
  Name: z.string(),
  Type: z.string().optional(),
  Value: z.string(),
});
export type DNSRecord = z.output<typeof DNSRecordSchema>;

/** `tailcfg.DNSConfig`. A `Routes` entry with an empty list means "use the default resolvers". */
export const DNSConfigSchema = z.object({
  Resolvers: resolvers,
  Routes: goMap(resolvers).transform((m) => {
    if (m === undefined) return undefined;
    const out: Record<string, Resolver[]> = {};
    for (const [k, v] of Object.entries(m)) out[k] = v ?? [];
    return out;
  }),
  FallbackResolvers: resolvers,
  Domains: goSlice(z.string()),
  Proxied: z.boolean().optional(),
  Nameservers: goSlice(ipAddr),
  CertDomains: goSlice(z.string()),
  ExtraRecords: goSlice(DNSRecordSchema),
  ExitNodeFilteredSet: goSlice(z.string()),
});
export type DNSConfig = z.output<typeof DNSConfigSchema>;
