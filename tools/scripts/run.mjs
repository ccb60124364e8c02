#!/usr/bin/env node
// The entry point behind `npm test`, `npm run demo` and `npm run bench` at the repository root.
//
// A newcomer has Node >= 20.19 and npm, nothing else. This script brings in the pinned pnpm
// (through npx, so nothing global is installed), installs the workspace, and runs the step asked
// for. `test` runs every check and every test, and ends with one plain line
// `N passed, N failed, N skipped` counted from vitest's JSON report; CI reads that line.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.replace(/^pnpm@/, '');
const ci = process.env.CI === 'true' || process.env.CI === '1';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`tsnet needs Node >= 20.19; this is ${process.version}.`);
  process.exit(1);
}

function log(msg) {
  process.stdout.write(`\n==> ${msg}\n`);
}

/** Runs a command in the repository root with inherited output; returns its exit status. */
function run(cmd, args, opts = {}) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...opts.env } });
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (r.error) {
    console.error(`${cmd} could not start: ${r.error.message}`);
    return 127;
  }
  if (opts.quiet !== true) process.stdout.write(`    (${secs} s, exit ${r.status ?? r.signal})\n`);
  return r.status ?? 1;
}

/** The pinned pnpm: the one on PATH if it is exactly that version, else through npx. */
function pnpmCommand() {
  const r = spawnSync('pnpm', ['--version'], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() === pnpmVersion) return ['pnpm', []];
  return ['npx', ['--yes', `pnpm@${pnpmVersion}`]];
}

const [pnpmBin, pnpmPre] = pnpmCommand();
const pnpm = (args, opts) => run(pnpmBin, [...pnpmPre, ...args], opts);

function install() {
  log(`install (pnpm ${pnpmVersion}${ci ? ', frozen lockfile' : ''})`);
  const args = ['install', ci ? '--frozen-lockfile' : '--prefer-offline'];
  if (pnpm(args) !== 0) {
    console.error('install failed');
    process.exit(1);
  }
}

function testCommand() {
  install();
  const failedSteps = [];
  const step = (name, fn) => {
    log(name);
    if (fn() !== 0) failedSteps.push(name);
  };
  step('lint (biome)', () => pnpm(['run', '--silent', 'lint']));
  step('typecheck (tsc --noEmit)', () => pnpm(['run', '--silent', 'typecheck']));
  step('package graph (tools/check-deps)', () => pnpm(['run', '--silent', 'check-deps']));
  step('build + publint (packed packages)', () => pnpm(['run', '--silent', 'publint']));
  step('API docs (typedoc: every export documented, no warnings)', () =>
    pnpm(['run', '--silent', 'docs:api']),
  );
  const interopInstall = join(root, 'tools', 'interop', 'src', 'install.mjs');
  if (existsSync(interopInstall)) {
    step('interop peers (tools/interop install)', () => run('node', [interopInstall]));
  }

  log('tests (vitest)');
  const report = join(root, '.vitest-report.json');
  rmSync(report, { force: true });
  const status = pnpm([
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
  ]);
  if (status !== 0) failedSteps.push('tests');

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed = r.numPassedTests ?? 0;
    failed = r.numFailedTests ?? 0;
    skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // A suite that failed to load counts as a failure even if vitest counted no test in it.
    const brokenFiles = (r.testResults ?? []).filter(
      (f) => f.status === 'failed' && (f.assertionResults ?? []).length === 0,
    ).length;
    failed += brokenFiles;
  } else {
    failed += 1;
  }
  if (failedSteps.length > 0) {
    process.stdout.write(`\nFailed steps: ${failedSteps.join(', ')}\n`);
    if (!failedSteps.includes('tests')) failed += failedSteps.length;
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  return failedSteps.length === 0 && failed === 0 ? 0 : 1;
}

function demoCommand() {
  install();
  log('demo');
  return pnpm(
    ['exec', 'tsx', '--conditions=@tsnet/source', 'apps/demo/src/main.ts', ...process.argv.slice(3)],
    {
      quiet: true,
    },
  );
}

function benchCommand() {
  install();
  const files = [];
  for (const dir of ['packages', 'tools']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const benchDir = join(root, dir, name, 'bench');
      if (!existsSync(benchDir)) continue;
      for (const f of readdirSync(benchDir).sort()) {
        if (f.endsWith('.bench.ts')) files.push(join(dir, name, 'bench', f));
      }
    }
  }
  let status = 0;
  for (const f of files) {
    log(`bench ${f}`);
    if (pnpm(['exec', 'tsx', '--conditions=@tsnet/source', f, ...process.argv.slice(3)]) !== 0) status = 1;
  }
  return status;
}

const commands = { test: testCommand, demo: demoCommand, bench: benchCommand };
const cmd = commands[process.argv[2]];
if (cmd === undefined) {
  console.error(`usage: node tools/scripts/run.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
process.exit(cmd());
