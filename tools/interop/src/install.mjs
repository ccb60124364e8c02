#!/usr/bin/env node
// Installs the real peers the interop tests run against, pinned, into a cache outside the repository:
//
//   ${TSNET_INTEROP_CACHE:-$HOME/.cache/tsnet-interop}/tailscale-<v>_headscale-<v>/
//     bin/{tailscaled,tailscale,derper,headscale,gopeer-<hash>}   stamps/*.json   logs/*.log   status.json
//
// plus Debian's wireguard-go, wireguard-tools and iproute2 (apt). Idempotent: every component has a
// stamp, so a second run only checks and takes a second or two. Where Go, root or network namespaces
// are missing it says what is missing and exits 0, unless CI=true, where that is a failure (exit 1).
// The fixtures (src/status.ts) read status.json. Plain Node ESM, no dependencies.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const interopRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pins = JSON.parse(readFileSync(join(interopRoot, 'pins.json'), 'utf8'));
const ci = process.env.CI === 'true' || process.env.CI === '1';
const cacheRoot =
  process.env.TSNET_INTEROP_CACHE !== undefined && process.env.TSNET_INTEROP_CACHE !== ''
    ? resolve(process.env.TSNET_INTEROP_CACHE)
    : join(homedir(), '.cache', 'tsnet-interop');
const dir = join(cacheRoot, `tailscale-${pins.tailscale}_headscale-${pins.headscale}`);
const binDir = join(dir, 'bin');
const stampDir = join(dir, 'stamps');
const logDir = join(dir, 'logs');
const BUILD_TIMEOUT_MS = 30 * 60 * 1000;

const t0 = Date.now();
/** Prerequisites that are absent here (skip locally, fail under CI). */
const missing = [];
/** Things that went wrong although their prerequisites were present. */
const failures = [];
const status = {
  version: 1,
  writtenAt: '',
  pins: { tailscale: pins.tailscale, headscale: pins.headscale, go: pins.go },
  cacheDir: dir,
  binDir,
  host: {},
  components: {},
};

function say(msg) {
  process.stdout.write(`[interop] ${msg}\n`);
}

function secs(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function which(cmd) {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (d !== '' && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

function quiet(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  return { code: r.status ?? (r.error ? 127 : 1), out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() };
}

/** Runs a long command with its output in logs/<name>.log and a line of progress every 30 s. */
function logged(name, cmd, args, opts = {}) {
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'w');
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], ...opts });
    const beat = setInterval(
      () => say(`  … ${name} still running (${secs(started)}, log ${logFile})`),
      30_000,
    );
    const kill = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    const finish = (code) => {
      clearInterval(beat);
      clearTimeout(kill);
      closeSync(fd);
      if (code !== 0) {
        const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-25).join('\n');
        say(`  ${name} failed (exit ${code}); last lines of ${logFile}:\n${tail}`);
      }
      done(code);
    };
    child.once('error', () => finish(127));
    child.once('exit', (code, signal) => finish(code ?? (signal ? 128 : 1)));
  });
}

function readStamp(name) {
  try {
    return JSON.parse(readFileSync(join(stampDir, `${name}.json`), 'utf8'));
  } catch {
    return null;
  }
}

function writeStamp(name, value) {
  mkdirSync(stampDir, { recursive: true });
  writeFileSync(join(stampDir, `${name}.json`), `${JSON.stringify(value, null, 2)}\n`);
}

function sameKey(stamp, key) {
  return stamp !== null && JSON.stringify(stamp.key) === JSON.stringify(key);
}

/** One cache user at a time: a lock file with our pid; a stale lock (dead pid) is taken over. */
async function lock() {
  mkdirSync(dir, { recursive: true });
  const f = join(dir, '.lock');
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (let waited = false; ; ) {
    try {
      writeFileSync(f, String(process.pid), { flag: 'wx' });
      process.once('exit', () => rmSync(f, { force: true }));
      return;
    } catch {
      const pid = Number(readFileSync(f, 'utf8').trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (!alive) {
        rmSync(f, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`the cache ${dir} stayed locked by pid ${pid}`);
      if (!waited) say(`waiting for another install (pid ${pid}) to finish…`);
      waited = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

// ---------------------------------------------------------------- host

function checkHost() {
  const host = status.host;
  host.platform = process.platform;
  host.root = process.getuid?.() === 0;
  host.tun = existsSync('/dev/net/tun');
  host.netns = false;
  if (process.platform !== 'linux') {
    missing.push('Linux (the interop peers and network namespaces need it)');
    return;
  }
  if (!host.root) missing.push('root (for apt-get and network namespaces)');
  if (!host.tun) missing.push('/dev/net/tun');
  if (host.root && which('ip') !== null) {
    const ns = `tsnet-install-probe-${process.pid}`;
    const r = quiet('ip', ['netns', 'add', ns]);
    if (r.code === 0) {
      quiet('ip', ['netns', 'del', ns]);
      host.netns = true;
    } else {
      missing.push(`network namespaces (ip netns add: ${r.out})`);
    }
  }
}

// ---------------------------------------------------------------- apt

function dpkgInstalled(pkg) {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const r = quiet('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return r.code === 0 && r.out.includes('install ok installed');
}

async function aptInstall() {
  const started = Date.now();
  const pkgs = pins.apt;
  if (which('dpkg-query') === null || which('apt-get') === null) {
    const absent = ['wireguard-go', 'wg', 'ip'].filter((c) => which(c) === null);
    if (absent.length > 0)
      missing.push(`${absent.join(', ')} (no apt-get here to install ${pkgs.join(' ')})`);
    return absent.length === 0;
  }
  const absent = pkgs.filter((p) => !dpkgInstalled(p));
  if (absent.length === 0) {
    say(`✓ apt: ${pkgs.join(', ')} installed`);
    return true;
  }
  if (!status.host.root) {
    missing.push(`apt packages ${absent.join(', ')} (not root; apt-get install ${absent.join(' ')})`);
    return false;
  }
  say(`apt: installing ${absent.join(', ')}…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['install', '-y', '--no-install-recommends', ...absent];
  let code = await logged('apt-install', 'apt-get', args, { env });
  if (code !== 0) {
    say('apt: install failed, running apt-get update first…');
    if ((await logged('apt-update', 'apt-get', ['update'], { env })) === 0) {
      code = await logged('apt-install', 'apt-get', args, { env });
    }
  }
  if (code !== 0 || absent.some((p) => !dpkgInstalled(p))) {
    failures.push(`apt-get install ${absent.join(' ')} failed (see ${join(logDir, 'apt-install.log')})`);
    return false;
  }
  say(`✓ apt: installed ${absent.join(', ')} (${secs(started)})`);
  return true;
}

// ---------------------------------------------------------------- go

function versionAtLeast(have, want) {
  const a = have.split('.').map(Number);
  const b = want.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** The environment for `go`: GOBIN, and GOTOOLCHAIN when the local Go is older than the pins need. */
function goSetup() {
  if (which('go') === null) {
    missing.push(`Go >= ${pins.go} on PATH (the interop peers are built with go install)`);
    return null;
  }
  const r = quiet('go', ['env', 'GOVERSION']);
  const goVersion = r.out.replace(/^go/, '').split(/\s/)[0] ?? '';
  status.host.go = goVersion;
  const env = { ...process.env, GOBIN: binDir, GOFLAGS: '-buildvcs=false' };
  if (!versionAtLeast(goVersion, pins.go)) {
    // The modules need a newer Go: let go fetch that toolchain through the module proxy.
    env.GOTOOLCHAIN = `go${pins.go}`;
    say(
      `Go ${goVersion} is older than the ${pins.go} the pinned modules need: using GOTOOLCHAIN=${env.GOTOOLCHAIN}`,
    );
  }
  return { env, goVersion: env.GOTOOLCHAIN ?? goVersion };
}

function firstLine(path, args) {
  const r = quiet(path, args, { timeout: 20_000 });
  return r.code === 0 ? (r.out.split('\n')[0] ?? '').trim() : null;
}

async function installTailscale(go) {
  const names = ['tailscaled', 'tailscale', 'derper'];
  const v = pins.tailscale;
  const short = v.replace(/^v/, '');
  const ldflags = `-X tailscale.com/version.longStamp=${short} -X tailscale.com/version.shortStamp=${short}`;
  const key = { version: v, go: go.goVersion, ldflags };
  const paths = names.map((n) => join(binDir, n));
  const record = (ok, why) => {
    for (const [i, n] of names.entries()) {
      status.components[n] = ok ? { ok, path: paths[i], version: short } : { ok, missing: why };
    }
  };
  if (sameKey(readStamp('tailscale'), key) && paths.every((p) => existsSync(p))) {
    say(`✓ tailscale ${v}: tailscaled, tailscale, derper cached`);
    record(true);
    return;
  }
  const started = Date.now();
  say(`tailscale ${v}: go install tailscaled, tailscale, derper (the first time takes minutes)…`);
  const args = ['install', `-ldflags=${ldflags}`, ...names.map((n) => `tailscale.com/cmd/${n}@${v}`)];
  const code = await logged('go-install-tailscale', 'go', args, { env: go.env });
  const got = code === 0 ? firstLine(paths[1], ['version']) : null;
  if (got === null || !got.startsWith(short)) {
    failures.push(
      `go install tailscale.com/cmd/...@${v} failed (see ${join(logDir, 'go-install-tailscale.log')})`,
    );
    record(false, `the build of tailscale ${v} failed`);
    return;
  }
  writeStamp('tailscale', { key, builtAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 });
  record(true);
  say(`✓ tailscale ${v}: built (${secs(started)}), tailscale version = ${got}`);
}

// `go install github.com/juanfont/headscale/cmd/headscale@v0.29.2` checks whether the module is
// deprecated by listing its versions (@v/list), which the module proxy reachable here refuses (403) for
// this module. Building it from a throw-away main module that requires exactly that version is the same
// build (same module graph: headscale's go.mod has no replace directives) without that query.
async function installHeadscale(go) {
  const v = pins.headscale;
  const key = { version: v, go: go.goVersion, recipe: 'require-module' };
  const path = join(binDir, 'headscale');
  if (sameKey(readStamp('headscale'), key) && existsSync(path)) {
    say(`✓ headscale ${v}: cached`);
    status.components.headscale = { ok: true, path, version: v };
    return;
  }
  const started = Date.now();
  say(`headscale ${v}: building (the first time takes minutes)…`);
  const buildDir = join(dir, 'build', 'headscale');
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  const goMinor = pins.go.split('.').slice(0, 2).join('.');
  writeFileSync(
    join(buildDir, 'go.mod'),
    `module tsnet-interop/headscale-build\n\ngo ${goMinor}\n\nrequire github.com/juanfont/headscale ${v}\n`,
  );
  const args = ['build', '-mod=mod', '-o', `${path}.tmp`, 'github.com/juanfont/headscale/cmd/headscale'];
  const code = await logged('go-build-headscale', 'go', args, { env: go.env, cwd: buildDir });
  if (code === 0) renameSync(`${path}.tmp`, path);
  const got = code === 0 ? firstLine(path, ['version']) : null;
  if (got === null || !got.includes(v)) {
    failures.push(`the build of headscale ${v} failed (see ${join(logDir, 'go-build-headscale.log')})`);
    status.components.headscale = { ok: false, missing: `the build of headscale ${v} failed` };
    return;
  }
  writeStamp('headscale', { key, builtAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 });
  status.components.headscale = { ok: true, path, version: v };
  say(`✓ headscale ${v}: built (${secs(started)}), ${got}`);
}

function gopeerHash() {
  const h = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(interopRoot, 'gopeer', f)));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function installGopeer(go) {
  const hash = gopeerHash();
  const name = `gopeer-${hash}`;
  const path = join(binDir, name);
  if (existsSync(path)) {
    say(`✓ gopeer: cached (${name})`);
    status.components.gopeer = { ok: true, path, hash };
    return;
  }
  const started = Date.now();
  say(`gopeer: building ${name}…`);
  mkdirSync(binDir, { recursive: true });
  const args = ['build', '-mod=readonly', '-o', `${path}.tmp`, '.'];
  const code = await logged('go-build-gopeer', 'go', args, { env: go.env, cwd: join(interopRoot, 'gopeer') });
  if (code !== 0) {
    failures.push(`the build of tools/interop/gopeer failed (see ${join(logDir, 'go-build-gopeer.log')})`);
    status.components.gopeer = { ok: false, missing: 'the build of tools/interop/gopeer failed' };
    return;
  }
  renameSync(`${path}.tmp`, path);
  for (const f of readdirSync(binDir)) {
    if (f.startsWith('gopeer-') && f !== name) rmSync(join(binDir, f), { force: true });
  }
  status.components.gopeer = { ok: true, path, hash };
  say(`✓ gopeer: built (${secs(started)})`);
}

// ---------------------------------------------------------------- main

async function main() {
  say(`installing the pinned interop peers into ${dir}`);
  mkdirSync(dir, { recursive: true });
  await lock();
  checkHost();

  const aptOk = await aptInstall();
  const wg = ['wireguard-go', 'wg', 'ip'].filter((c) => which(c) === null);
  if (!aptOk || wg.length > 0 || !status.host.netns || !status.host.tun) {
    const why = [
      ...wg.map((c) => `${c} not found`),
      ...(status.host.netns ? [] : ['no network namespaces']),
      ...(status.host.tun ? [] : ['no /dev/net/tun']),
    ];
    status.components.wireguard = { ok: false, missing: why.join(', ') || 'apt install failed' };
  } else {
    status.components.wireguard = { ok: true };
  }

  const go = goSetup();
  if (go !== null) {
    mkdirSync(binDir, { recursive: true });
    // One after the other: the machine has two cores, and the builds share Go's build cache.
    await installTailscale(go);
    await installHeadscale(go);
    await installGopeer(go);
  } else {
    for (const c of ['tailscaled', 'tailscale', 'derper', 'headscale', 'gopeer']) {
      status.components[c] = { ok: false, missing: 'Go' };
    }
  }

  status.writtenAt = new Date().toISOString();
  status.missing = missing;
  status.failures = failures;
  writeFileSync(join(dir, 'status.json'), `${JSON.stringify(status, null, 2)}\n`);

  for (const m of missing) say(`missing: ${m}`);
  for (const f of failures) say(`failed: ${f}`);
  const bad = missing.length + failures.length;
  say(
    `${bad === 0 ? 'done' : 'done, incompletely'} in ${secs(t0)}; status: ${join(dir, 'status.json')}` +
      (bad > 0 && !ci ? ' (interop tests that need what is missing will be skipped)' : ''),
  );
  return bad > 0 && ci ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    say(`install failed: ${e instanceof Error ? e.stack : String(e)}`);
    process.exit(ci ? 1 : 0);
  },
);
