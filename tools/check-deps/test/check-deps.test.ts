import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDeps, type Graph, importsOf, packageNameOf } from '../src/check-deps.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const cli = join(here, '..', 'src', 'cli.mjs');
const graph = JSON.parse(readFileSync(join(here, '..', 'graph.json'), 'utf8')) as Graph;

const temps: string[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

/** A tiny workspace: packages/<dir> with a manifest and one source file each. */
function fixture(pkgs: Record<string, { name: string; deps?: Record<string, string>; src: string }>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-deps-'));
  temps.push(root);
  for (const [dir, p] of Object.entries(pkgs)) {
    mkdirSync(join(root, 'packages', dir, 'src'), { recursive: true });
    writeFileSync(
      join(root, 'packages', dir, 'package.json'),
      JSON.stringify({ name: p.name, dependencies: p.deps ?? {} }),
    );
    writeFileSync(join(root, 'packages', dir, 'src', 'index.ts'), p.src);
  }
  return root;
}

describe('check-deps', () => {
  it('passes on this repository', () => {
    const r = spawnSync(process.execPath, [cli, repoRoot], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('fails when netstack imports wireguard (a forbidden sibling edge)', () => {
    const root = fixture({
      core: { name: '@tsnet/core', src: 'export const x = 1;\n' },
      wireguard: {
        name: '@tsnet/wireguard',
        deps: { '@tsnet/core': 'workspace:*' },
        src: "import '@tsnet/core';\n",
      },
      netstack: {
        name: '@tsnet/netstack',
        deps: { '@tsnet/wireguard': 'workspace:*' },
        src: "import { Device } from '@tsnet/wireguard';\nexport { Device };\n",
      },
    });
    const r = spawnSync(process.execPath, [cli, root], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('@tsnet/netstack: src/index.ts imports sibling package @tsnet/wireguard');
    expect(r.stderr).toContain('@tsnet/netstack: package.json depends on @tsnet/wireguard');
  });

  it('flags an undeclared external, a path escaping the package, and an unknown package', () => {
    const root = fixture({
      core: { name: '@tsnet/core', src: "import { x } from '@noble/hashes/blake2.js';\nexport { x };\n" },
      derp: { name: '@tsnet/derp', src: "export * from '../../core/src/index.js';\n" },
      rogue: { name: '@tsnet/rogue', src: 'export {};\n' },
    });
    // A package's build config may use the workspace's shared one; its src may not reach out.
    writeFileSync(join(root, 'packages', 'derp', 'tsup.config.ts'), "export * from '../../tsup.base.js';\n");
    const v = checkDeps(root, graph);
    expect(v.filter((s) => s.includes('tsup.config.ts'))).toEqual([]);
    expect(v).toContain(
      '@tsnet/core: src/index.ts imports @noble/hashes, which package.json does not declare',
    );
    expect(v).toContain(
      '@tsnet/derp: src/index.ts imports ../../core/src/index.js, a path outside the package',
    );
    expect(v.some((s) => s.startsWith('@tsnet/rogue: not in tools/check-deps/graph.json'))).toBe(true);
  });

  it('reads every import form and ignores comments', () => {
    const src = [
      "import a from 'a';",
      "import type { B } from 'b';",
      "import * as c from 'c';",
      "export { d } from 'd';",
      "import 'e';",
      "const f = await import('f');",
      "// import z from 'commented';",
      "/* import y from 'block'; */",
      'import {',
      '  g,',
      "} from 'node:g';",
    ].join('\n');
    expect(importsOf(src)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'node:g']);
    expect(packageNameOf('@noble/hashes/blake2.js')).toBe('@noble/hashes');
    expect(packageNameOf('ws/lib/x')).toBe('ws');
  });
});
