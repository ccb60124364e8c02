// A real derper on 127.0.0.1: plain HTTP (real nodes then need TS_DEBUG_USE_DERP_HTTP=1) or TLS with a
// self-signed certificate (derper makes it for an IP hostname under -certmode manual) pinned in the DERP
// map through CertName "sha256-raw:<hex>". STUN on a free UDP port of 127.0.0.1.
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, freeUdpPort, Proc, waitUntil } from './proc.js';
import { requireBinary } from './status.js';

export interface DerperOptions {
  /** Serve TLS with a self-signed certificate pinned by CertName (default false: plain HTTP). */
  tls?: boolean;
  /** DERP map region (default 900, code "loop"). */
  regionId?: number;
  regionCode?: string;
  /** Run STUN (default true). */
  stun?: boolean;
  /** Extra derper flags, e.g. ['-verify-client-url', url]. */
  extraArgs?: string[];
}

/** tailcfg.DERPNode as JSON (Go field names). */
export interface DerpNodeJson {
  Name: string;
  RegionID: number;
  HostName: string;
  IPv4: string;
  IPv6: string;
  STUNPort: number;
  DERPPort: number;
  CertName?: string;
  STUNOnly?: boolean;
  InsecureForTests?: boolean;
}

/** tailcfg.DERPRegion as JSON. */
export interface DerpRegionJson {
  RegionID: number;
  RegionCode: string;
  RegionName: string;
  Nodes: DerpNodeJson[];
}

export interface DerpMapJson {
  Regions: Record<string, DerpRegionJson>;
  OmitDefaultRegions?: boolean;
}

export interface Derper {
  host: '127.0.0.1';
  port: number;
  /** -1 when STUN is off. */
  stunPort: number;
  tls: boolean;
  /** http://127.0.0.1:port or https://127.0.0.1:port */
  url: string;
  /** "sha256-raw:<hex>" of the self-signed certificate (TLS only). */
  certName: string | null;
  /** The certificate PEM (TLS only). */
  certPem: string | null;
  regionId: number;
  regionCode: string;
  /** Environment a real node (tailscaled, gopeer) needs to use this derper. */
  clientEnv: Record<string, string>;
  derpRegion(): DerpRegionJson;
  derpMap(): DerpMapJson;
  logs(): string;
  close(): Promise<void>;
}

/** Probes /derp/probe until the server answers (any status below 500). */
function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.startsWith('https:') ? httpsGet : httpGet;
    const req = get(`${url}/derp/probe`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

export async function startDerper(opts: DerperOptions = {}): Promise<Derper> {
  const bin = requireBinary('derper');
  const tls = opts.tls ?? false;
  const regionId = opts.regionId ?? 900;
  const regionCode = opts.regionCode ?? 'loop';
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-derper-'));
  const port = await freeTcpPort();
  const stunPort = (opts.stun ?? true) ? await freeUdpPort() : -1;
  const args = [
    '-a',
    `127.0.0.1:${port}`,
    '-c',
    join(dir, 'derper.key'),
    '-http-port',
    '-1',
    `-stun=${stunPort !== -1}`,
    '-stun-port',
    String(stunPort !== -1 ? stunPort : 0),
    '-mesh-psk-file',
    '',
    '-home',
    'blank',
  ];
  if (tls) args.push('-certmode', 'manual', '-hostname', '127.0.0.1', '-certdir', join(dir, 'certs'));
  args.push(...(opts.extraArgs ?? []));
  const proc = new Proc(`derper :${port}`, bin, args, { cwd: dir });
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let certName: string | null = null;
  let certPem: string | null = null;

  const close = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('derper to answer /derp/probe', () => (proc.exitInfo !== null ? undefined : probe(url)), {
      timeoutMs: 15_000,
      intervalMs: 100,
    });
    if (proc.exitInfo !== null)
      throw new Error(`derper exited: ${proc.exitInfo.signal ?? proc.exitInfo.code}`);
    if (tls) {
      certPem = readFileSync(join(dir, 'certs', '127.0.0.1.crt'), 'utf8');
      const raw = new X509Certificate(certPem).raw;
      certName = `sha256-raw:${createHash('sha256').update(raw).digest('hex')}`;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const tail = proc.logs().slice(-4000);
    await close();
    throw new Error(`startDerper failed: ${msg}\n${tail}`);
  }

  const node = (): DerpNodeJson => ({
    Name: `${regionId}a`,
    RegionID: regionId,
    HostName: '127.0.0.1',
    IPv4: '127.0.0.1',
    IPv6: 'none',
    STUNPort: stunPort,
    DERPPort: port,
    ...(certName !== null ? { CertName: certName } : {}),
  });
  const region = (): DerpRegionJson => ({
    RegionID: regionId,
    RegionCode: regionCode,
    RegionName: `Loopback derper ${regionCode}`,
    Nodes: [node()],
  });
  return {
    host: '127.0.0.1',
    port,
    stunPort,
    tls,
    url,
    certName,
    certPem,
    regionId,
    regionCode,
    clientEnv: tls ? {} : { TS_DEBUG_USE_DERP_HTTP: '1' },
    derpRegion: region,
    derpMap: () => ({ Regions: { [String(regionId)]: region() } }),
    logs: () => proc.logs(),
    close,
  };
}

/**
 * A DERP map in the YAML form headscale's `derp.paths` reads (yaml.v3 into tailcfg.DERPMap: lower-cased
 * Go field names, integer region keys).
 */
export function derpMapYaml(map: DerpMapJson): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = ['regions:'];
  for (const r of Object.values(map.Regions)) {
    lines.push(`  ${r.RegionID}:`);
    lines.push(`    regionid: ${r.RegionID}`);
    lines.push(`    regioncode: ${q(r.RegionCode)}`);
    lines.push(`    regionname: ${q(r.RegionName)}`);
    lines.push('    nodes:');
    for (const n of r.Nodes) {
      lines.push(`      - name: ${q(n.Name)}`);
      lines.push(`        regionid: ${n.RegionID}`);
      lines.push(`        hostname: ${q(n.HostName)}`);
      lines.push(`        ipv4: ${q(n.IPv4)}`);
      lines.push(`        ipv6: ${q(n.IPv6)}`);
      lines.push(`        stunport: ${n.STUNPort}`);
      lines.push(`        stunonly: ${n.STUNOnly === true}`);
      lines.push(`        derpport: ${n.DERPPort}`);
      if (n.CertName !== undefined) lines.push(`        certname: ${q(n.CertName)}`);
      if (n.InsecureForTests === true) lines.push('        insecurefortests: true');
    }
  }
  return `${lines.join('\n')}\n`;
}
