// The other direction: the real `tailscale` CLI v1.102.3 (Go's `local.Client` and JSON decoders) as
// the client of OUR handler, served on a unix socket over the fixture's netmap. If Go decodes what we
// serve into the same values, a Go program can use a tsnet-for-TypeScript node's LocalAPI too.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryPath, describeInterop, run } from '@tsnet/interop';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createLocalApiHandler } from '../src/handler.js';
import { statusFromNetmap } from '../src/netmap-status.js';
import { ALICE_IP, ALICE_KEY, sampleBackend, sampleNetmap, TAGGED_IP } from './fixture.js';

describeInterop('the tailscale CLI (Go local.Client) against our LocalAPI handler', ['tailscaled'], () => {
  let dir = '';
  let sock = '';
  let server: Server | null = null;
  const masks: number[] = [];
  const cli = (args: string[]) =>
    run(binaryPath('tailscale') ?? 'tailscale', [`--socket=${sock}`, ...args], { timeoutMs: 15_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsnet-localapi-go-'));
    sock = join(dir, 'tailscaled.sock');
    const nm = sampleNetmap();
    const backend = sampleBackend(nm);
    backend.status = ({ peers }) =>
      statusFromNetmap(nm, { version: '1.102.3', backendState: 'Running', peers });
    backend.watchIPNBus = async function* (mask, signal) {
      masks.push(mask);
      yield { Version: '1.102.3', State: 6, Prefs: { ControlURL: 'http://127.0.0.1:1', WantRunning: true } };
      yield { BrowseToURL: 'https://login.example/a' };
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    };
    server = createServer(createLocalApiHandler({ backend, version: '1.102.3' }));
    await new Promise<void>((r) => server!.listen(sock, r));
  });

  afterAll(async () => {
    await new Promise<void>((r) => (server === null ? r() : server.close(() => r())));
    rmSync(dir, { recursive: true, force: true });
  });

  it('tailscale whois --json decodes our WhoIs (node, user, CapMap)', async () => {
    const r = await cli(['whois', '--json', ALICE_IP]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.Node.Key).toBe(ALICE_KEY);
    expect(j.Node.ID).toBe(2);
    expect(j.Node.Addresses[0]).toBe(`${ALICE_IP}/32`);
    expect(j.Node.Created).toBe('2026-11-24T10:00:00Z');
    expect(j.UserProfile.LoginName).toBe('alice@example.com');
    expect(j.CapMap).toEqual({ 'example.com/cap/web': [{ role: 'admin' }] });
    const tagged = JSON.parse((await cli(['whois', '--json', TAGGED_IP])).stdout);
    expect(tagged.Node.Tags).toEqual(['tag:ci']);
    expect(tagged.CapMap).toBeNull();
  });

  it('tailscale whois of an unknown peer reports Go’s ErrPeerNotFound', async () => {
    const r = await cli(['whois', '100.64.0.99']);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/peer not found/i);
  });

  it('tailscale status --json decodes our status (self, peers by node key, users)', async () => {
    const r = await cli(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.BackendState).toBe('Running');
    expect(j.Self.DNSName).toBe('self.tailnet.test.');
    expect(j.TailscaleIPs).toEqual(['100.64.0.1', 'fd7a:115c:a1e0::1']);
    expect(Object.keys(j.Peer).sort()).toEqual([ALICE_KEY, `nodekey:${'33'.repeat(32)}`]);
    expect(j.Peer[ALICE_KEY].HostName).toBe('alice-laptop');
    expect(j.Peer[ALICE_KEY].Online).toBe(true);
    expect(j.User['2'].LoginName).toBe('alice@example.com');
    expect(j.MagicDNSSuffix).toBe('tailnet.test');
  });

  it('plain `tailscale status` prints our peers', async () => {
    const r = await cli(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('alice-laptop');
    expect(r.stdout).toContain(ALICE_IP);
  });

  it('tailscale debug watch-ipn reads our IPN bus', async () => {
    const r = await cli(['debug', 'watch-ipn', '--initial', '--count=2', '--peer-changes=false']);
    expect(r.code, r.stderr).toBe(0);
    expect(masks.at(-1)! & 0b110).toBe(0b110); // NotifyInitialState | NotifyInitialPrefs
    expect(r.stdout).toContain('"State": 6');
    expect(r.stdout).toContain('http://127.0.0.1:1');
    expect(r.stdout).toContain('https://login.example/a');
  });
});
