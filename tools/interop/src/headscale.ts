// A real headscale on free loopback ports with a throw-away config: sqlite, its own noise key, a DERP
// map pointing at a derper we started (or headscale's embedded DERP), and the policy in the database
// (`headscale policy set`), so tests can change it and know when it applied. The CLI talks gRPC over a
// unix socket in the temporary folder.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DerpMapJson, derpMapYaml } from './derper.js';
import { freeTcpPort, freeUdpPort, Proc, type RunResult, run, waitUntil } from './proc.js';
import { requireBinary } from './status.js';

export interface HeadscaleOptions {
  /** The DERP map headscale hands out (e.g. `derper.derpMap()`); ignored with `embeddedDerp`. */
  derpMap?: DerpMapJson;
  /** Use headscale's embedded DERP server (and STUN) instead; `verifyClients` defaults to true. */
  embeddedDerp?: boolean | { verifyClients?: boolean };
  /** An initial policy (HuJSON text or an object); none means allow all. */
  policy?: string | object;
  /** MagicDNS base domain (default "tailnet.test"). */
  baseDomain?: string;
  /** node.ephemeral.inactivity_timeout (default "70s"; headscale wants more than 65 s). */
  ephemeralInactivityTimeout?: string;
  /** log.level (default "debug"). */
  logLevel?: string;
}

export interface HeadscaleUser {
  id: number;
  name: string;
}

export interface PreAuthKeyOptions {
  /** A user id or name; omit for a tags-only key. */
  user?: number | string;
  reusable?: boolean;
  ephemeral?: boolean;
  tags?: string[];
  /** e.g. "1h" (headscale's default) or "24h". */
  expiration?: string;
}

export interface HeadscaleNode {
  id: number;
  name: string;
  givenName: string;
  ipAddresses: string[];
  online: boolean;
  user: string | null;
  tags: string[];
  /** Key expiry, or null for never. */
  expiry: Date | null;
  /** The node as `headscale nodes list -o json` prints it. */
  raw: Record<string, unknown>;
}

export interface Headscale {
  /** http://127.0.0.1:port: the control URL for nodes. */
  url: string;
  port: number;
  dir: string;
  configPath: string;
  baseDomain: string;
  /** The DERP map nodes get; for the embedded DERP, the region headscale generates (id 999). */
  derpMap: DerpMapJson | null;
  /** Environment a real node needs for this control's DERP (TS_DEBUG_USE_DERP_HTTP=1 for the embedded one). */
  clientEnv: Record<string, string>;
  /** `headscale -c <config> ...args` */
  cli(args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  /** `headscale -c <config> ...args -o json`, parsed; throws unless it exits 0. */
  cliJson<T = unknown>(args: string[]): Promise<T>;
  createUser(name: string, opts?: { displayName?: string; email?: string }): Promise<HeadscaleUser>;
  users(): Promise<HeadscaleUser[]>;
  /** Creates a pre-auth key and returns the key itself. */
  createPreAuthKey(opts?: PreAuthKeyOptions): Promise<string>;
  /** Sets the policy (HuJSON text or an object) and returns once headscale accepted it. */
  setPolicy(policy: string | object): Promise<void>;
  nodes(): Promise<HeadscaleNode[]>;
  /** Waits for a node whose name or given name is `name` (and that satisfies `pred`). */
  waitForNode(
    name: string,
    opts?: { timeoutMs?: number; pred?: (n: HeadscaleNode) => boolean },
  ): Promise<HeadscaleNode>;
  /** Expires a node's key now (or at `at`). */
  expireNode(id: number, at?: Date): Promise<void>;
  deleteNode(id: number): Promise<void>;
  logs(): string;
  close(): Promise<void>;
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function tsDate(v: unknown): Date | null {
  if (typeof v !== 'object' || v === null) return null;
  const s = Number((v as { seconds?: unknown }).seconds ?? 0);
  if (s <= 0) return null;
  return new Date(s * 1000);
}

function toNode(raw: Record<string, unknown>): HeadscaleNode {
  const user = raw.user as { name?: string } | undefined;
  return {
    id: Number(raw.id ?? 0),
    name: String(raw.name ?? ''),
    givenName: String(raw.given_name ?? ''),
    ipAddresses: (raw.ip_addresses as string[] | undefined) ?? [],
    online: raw.online === true,
    user: user?.name ?? null,
    tags: (raw.tags as string[] | undefined) ?? [],
    expiry: tsDate(raw.expiry),
    raw,
  };
}

export async function startHeadscale(opts: HeadscaleOptions = {}): Promise<Headscale> {
  const bin = requireBinary('headscale');
  const dir = mkdtempSync(join(tmpdir(), 'tsnet-hs-'));
  const port = await freeTcpPort();
  const metricsPort = await freeTcpPort();
  const grpcPort = await freeTcpPort();
  const url = `http://127.0.0.1:${port}`;
  const baseDomain = opts.baseDomain ?? 'tailnet.test';
  const configPath = join(dir, 'config.yaml');
  const embedded = opts.embeddedDerp === undefined || opts.embeddedDerp === false ? null : opts.embeddedDerp;
  const verifyClients =
    typeof embedded === 'object' && embedded !== null ? (embedded.verifyClients ?? true) : true;

  let derpMap: DerpMapJson | null = null;
  const derpPaths: string[] = [];
  let embeddedStun = 0;
  if (embedded !== null) {
    embeddedStun = await freeUdpPort();
    derpMap = {
      Regions: {
        '999': {
          RegionID: 999,
          RegionCode: 'headscale',
          RegionName: 'Headscale Embedded DERP',
          Nodes: [
            {
              Name: '999',
              RegionID: 999,
              HostName: '127.0.0.1',
              IPv4: '127.0.0.1',
              IPv6: 'none',
              STUNPort: embeddedStun,
              DERPPort: port,
            },
          ],
        },
      },
    };
  } else if (opts.derpMap !== undefined) {
    derpMap = opts.derpMap;
    const p = join(dir, 'derpmap.yaml');
    writeFileSync(p, derpMapYaml(opts.derpMap));
    derpPaths.push(p);
  }

  // JSON is YAML: the config is written as JSON into config.yaml.
  const config = {
    server_url: url,
    listen_addr: `127.0.0.1:${port}`,
    metrics_listen_addr: `127.0.0.1:${metricsPort}`,
    grpc_listen_addr: `127.0.0.1:${grpcPort}`,
    grpc_allow_insecure: false,
    noise: { private_key_path: join(dir, 'noise_private.key') },
    prefixes: { v4: '100.64.0.0/10', v6: 'fd7a:115c:a1e0::/48', allocation: 'sequential' },
    derp: {
      server: {
        enabled: embedded !== null,
        region_id: 999,
        region_code: 'headscale',
        region_name: 'Headscale Embedded DERP',
        verify_clients: verifyClients,
        stun_listen_addr: `127.0.0.1:${embeddedStun || 3478}`,
        private_key_path: join(dir, 'derp_server_private.key'),
        automatically_add_embedded_derp_region: true,
        ipv4: '127.0.0.1',
        ipv6: '',
      },
      urls: [],
      paths: derpPaths,
      auto_update_enabled: false,
      update_frequency: '24h',
    },
    disable_check_updates: true,
    node: {
      expiry: 0,
      ephemeral: { inactivity_timeout: opts.ephemeralInactivityTimeout ?? '70s' },
    },
    database: {
      type: 'sqlite',
      sqlite: { path: join(dir, 'db.sqlite'), write_ahead_log: true },
    },
    log: { level: opts.logLevel ?? 'debug', format: 'text' },
    policy: { mode: 'database', path: '' },
    dns: {
      magic_dns: true,
      base_domain: baseDomain,
      override_local_dns: false,
      nameservers: { global: [], split: {} },
      search_domains: [],
      extra_records: [],
    },
    unix_socket: join(dir, 'headscale.sock'),
    unix_socket_permission: '0770',
    logtail: { enabled: false },
    taildrop: { enabled: false },
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const proc = new Proc(`headscale :${port}`, bin, ['-c', configPath, 'serve'], { cwd: dir });
  const cli = (args: string[], o: { timeoutMs?: number } = {}) =>
    run(bin, ['-c', configPath, ...args], { timeoutMs: o.timeoutMs ?? 15_000, cwd: dir });
  const cliJson = async <T>(args: string[]): Promise<T> => {
    const r = await cli([...args, '-o', 'json']);
    if (r.code !== 0) throw new Error(`headscale ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout === '' ? 'null' : r.stdout) as T;
  };
  const close = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };

  const users = async (): Promise<HeadscaleUser[]> => {
    const list =
      (await cliJson<Array<{ id: number | string; name: string }> | null>(['users', 'list'])) ?? [];
    return list.map((u) => ({ id: Number(u.id), name: u.name }));
  };
  const nodes = async (): Promise<HeadscaleNode[]> =>
    ((await cliJson<Array<Record<string, unknown>> | null>(['nodes', 'list'])) ?? []).map(toNode);

  const hs: Headscale = {
    url,
    port,
    dir,
    configPath,
    baseDomain,
    derpMap,
    clientEnv: embedded !== null ? { TS_DEBUG_USE_DERP_HTTP: '1' } : {},
    cli,
    cliJson,
    async createUser(name, o = {}) {
      const args = ['users', 'create', name];
      if (o.displayName !== undefined) args.push('--display-name', o.displayName);
      if (o.email !== undefined) args.push('--email', o.email);
      const u = await cliJson<{ id: number | string; name: string }>(args);
      return { id: Number(u.id), name: u.name };
    },
    users,
    async createPreAuthKey(o = {}) {
      const args = ['preauthkeys', 'create', '-e', o.expiration ?? '1h'];
      if (o.user !== undefined) {
        let id = o.user;
        if (typeof id === 'string') {
          const u = (await users()).find((x) => x.name === id);
          if (u === undefined) throw new Error(`headscale: no user named ${id}`);
          id = u.id;
        }
        args.push('--user', String(id));
      }
      if (o.reusable === true) args.push('--reusable');
      if (o.ephemeral === true) args.push('--ephemeral');
      if (o.tags !== undefined && o.tags.length > 0) args.push('--tags', o.tags.join(','));
      const k = await cliJson<{ key?: string }>(args);
      if (typeof k?.key !== 'string') throw new Error(`headscale: no key in ${JSON.stringify(k)}`);
      return k.key;
    },
    async setPolicy(policy) {
      const text = typeof policy === 'string' ? policy : JSON.stringify(policy, null, 2);
      const f = join(dir, `policy-${Date.now()}.hujson`);
      writeFileSync(f, text);
      const r = await cli(['policy', 'set', '-f', f]);
      if (r.code !== 0) throw new Error(`headscale policy set failed (${r.code}): ${r.stderr}${r.stdout}`);
    },
    nodes,
    async waitForNode(name, o = {}) {
      return waitUntil(
        `headscale node ${name}`,
        async () =>
          (await nodes()).find((n) => (n.name === name || n.givenName === name) && (o.pred?.(n) ?? true)),
        { timeoutMs: o.timeoutMs ?? 20_000, intervalMs: 250 },
      );
    },
    async expireNode(id, at) {
      const args = ['nodes', 'expire', '-i', String(id)];
      if (at !== undefined) args.push('-e', at.toISOString().replace(/\.\d{3}Z$/, 'Z'));
      const r = await cli(args);
      if (r.code !== 0) throw new Error(`headscale nodes expire failed: ${r.stderr}${r.stdout}`);
    },
    async deleteNode(id) {
      const r = await cli(['nodes', 'delete', '-i', String(id), '--force']);
      if (r.code !== 0) throw new Error(`headscale nodes delete failed: ${r.stderr}${r.stdout}`);
    },
    logs: () => proc.logs(),
    close,
  };

  try {
    await waitUntil(
      'headscale /health',
      () => (proc.exitInfo !== null ? undefined : httpOk(`${url}/health`)),
      {
        timeoutMs: 20_000,
        intervalMs: 100,
      },
    );
    if (proc.exitInfo !== null) throw new Error('headscale exited');
    await waitUntil('the headscale CLI socket', async () => (await cli(['users', 'list'])).code === 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    if (opts.policy !== undefined) await hs.setPolicy(opts.policy);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const tail = proc.logs().slice(-4000);
    await close();
    throw new Error(`startHeadscale failed: ${msg}\n${tail}`);
  }
  return hs;
}
