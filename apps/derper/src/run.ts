/**
 * Starts a DERP relay from `DerperOptions`: the key (from `-c`, created if missing), TLS (manual
 * files or a self-signed certificate made with openssl), the DerpServer and the STUN responder.
 * Like Go's derper, it logs a ready-made DERP map node, with `CertName: "sha256-raw:<hex>"` for a
 * self-signed certificate.
 */

import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { type Logf, NodePrivate } from '@tsnet/core';
import { type DerpNode, DerpServer, type DerpServerOptions, StunServer } from '@tsnet/derp';
import { type DerperOptions, splitHostPort } from './options.js';

export interface RunningDerper {
  server: DerpServer;
  stun: StunServer | null;
  url: string;
  port: number;
  stunPort: number;
  /** A DERP map node for this server (Go field names). */
  node: DerpNode;
  close(): Promise<void>;
}

/** Reads the key file, or creates it (mode 0600) with a new key; an empty path means a new key. */
export function loadOrCreateKey(path: string): NodePrivate {
  if (path === '') return NodePrivate.generate();
  if (existsSync(path)) {
    const cfg = JSON.parse(readFileSync(path, 'utf8')) as { PrivateKey?: unknown };
    if (typeof cfg.PrivateKey !== 'string') throw new Error(`${path}: no PrivateKey`);
    return NodePrivate.parse(cfg.PrivateKey);
  }
  const key = NodePrivate.generate();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ PrivateKey: key.marshalText() })}\n`, { mode: 0o600 });
  return key;
}

/** A self-signed certificate for `name` (an IP or DNS name), made with the openssl command. */
export function selfSigned(name: string, dir: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    const san = isIP(name) === 0 ? `DNS:${name}` : `IP:${name}`;
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '365',
        '-subj',
        `/CN=${name}`,
        '-addext',
        `subjectAltName=${san}`,
      ],
      { stdio: 'ignore', timeout: 30_000 },
    );
  }
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

export async function runDerper(o: DerperOptions, logf: Logf): Promise<RunningDerper> {
  const { host, port } = splitHostPort(o.addr);
  const hostname = o.hostname !== '' ? o.hostname : host;
  const privateKey = loadOrCreateKey(o.configPath);
  let tls: { cert: string; key: string } | undefined;
  if (o.certMode === 'manual') {
    const certPath = o.tlsCert !== '' ? o.tlsCert : join(o.certDir, `${hostname}.crt`);
    const keyPath = o.tlsKey !== '' ? o.tlsKey : join(o.certDir, `${hostname}.key`);
    tls = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } else if (o.certMode === 'self-signed') {
    const dir =
      o.certDir !== '' ? o.certDir : join(o.configPath !== '' ? dirname(o.configPath) : '.', 'derper-certs');
    tls = selfSigned(hostname, dir);
  }
  const serverOpts: DerpServerOptions = { privateKey, logf: o.verbose ? logf : () => {} };
  if (o.meshPskFile !== '') serverOpts.meshKey = readFileSync(o.meshPskFile, 'utf8').trim();
  if (o.rateLimitBytesPerSec > 0) {
    serverOpts.rateLimit = {
      bytesPerSecond: o.rateLimitBytesPerSec,
      burstBytes: o.rateBurstBytes > 0 ? o.rateBurstBytes : 2 * o.rateLimitBytesPerSec,
    };
  }
  const server = new DerpServer(serverOpts);
  const listenOpts = tls === undefined ? { host, port } : { host, port, tls };
  const { url, port: boundPort } = await server.listen(listenOpts);
  for (const peer of o.meshWith) {
    server.meshWith(peer);
    logf('derper: meshing with %s', peer);
  }
  let stun: StunServer | null = null;
  let stunPort = -1;
  if (o.stun && o.stunPort >= 0) {
    stun = new StunServer({ logf });
    try {
      stunPort = await stun.listen({ host, port: o.stunPort });
    } catch (err) {
      await server.close();
      throw err;
    }
  }
  const node: DerpNode = {
    Name: '900a',
    RegionID: 900,
    HostName: hostname,
    DERPPort: boundPort,
    STUNPort: stunPort,
  };
  if (isIP(host) === 4) node.IPv4 = host;
  if (isIP(host) === 6) node.IPv6 = host;
  if (tls !== undefined && o.certMode === 'self-signed') {
    const der = new X509Certificate(tls.cert).raw;
    node.CertName = `sha256-raw:${createHash('sha256').update(der).digest('hex')}`;
  }
  logf('derper: serving DERP on %s (server key %s)', url, server.publicKey.shortString());
  if (stun !== null) logf('derper: STUN on %s:%d/udp', host, stunPort);
  if (tls === undefined) logf('derper: plain HTTP: real tailscaled nodes need TS_DEBUG_USE_DERP_HTTP=1');
  logf('derper: DERP map node: %s', JSON.stringify(node));
  return {
    server,
    stun,
    url,
    port: boundPort,
    stunPort,
    node,
    close: async () => {
      await server.close();
      await stun?.close();
    },
  };
}
