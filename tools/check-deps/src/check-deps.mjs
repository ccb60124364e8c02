// tools/check-deps: enforces the package graph of shared/DESIGN.md §1.
//
// For every package under packages/:
//   - its package.json runtime dependencies (dependencies, optionalDependencies, peerDependencies)
//     name only what graph.json allows it;
//   - every import in src/ (static, dynamic, re-export, require) is a node: builtin, a relative path
//     that stays inside the package, or a package that graph.json allows AND package.json declares;
//   - tests, benches and fuzz targets may also import what devDependencies declares.
// Plain JavaScript with no dependencies, so it runs on a bare checkout.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const BUILTINS = new Set(builtinModules);

// import x from 'y' / import 'y' / export * from 'y' / import('y') / require('y') / import type … from 'y'
const IMPORT_RE =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|(?:\bimport|\brequire)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Strips comments so that examples in docs do not count as imports. */
function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"\\])\/\/.*$/gm, '$1');
}

/** Returns the import specifiers of a TypeScript or JavaScript source. */
export function importsOf(text) {
  const out = [];
  const src = stripComments(text);
  for (const m of src.matchAll(IMPORT_RE)) out.push(m[1] ?? m[2]);
  return out;
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
export function packageNameOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function walk(dir, files = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return files; // a package without that folder
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, files);
    else if (/\.(c|m)?[jt]sx?$/.test(name) && !name.endsWith('.d.ts')) files.push(p);
  }
  return files;
}

const isTestFile = (rel) =>
  /\.(test|spec|bench)\.[cm]?[jt]s$/.test(rel) || /^(test|fuzz|bench)[/\\]/.test(rel);

/**
 * Checks the workspace at `root` against `graph` ({ packages: { name: { workspace, external } } }).
 * Returns a list of human-readable violations; empty means the graph holds.
 */
export function checkDeps(root, graph) {
  const violations = [];
  const packagesDir = join(root, 'packages');
  const dirs = readdirSync(packagesDir).filter((d) => statSync(join(packagesDir, d)).isDirectory());
  const workspaceNames = new Set();
  const manifests = [];
  for (const d of dirs) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, d, 'package.json'), 'utf8'));
    workspaceNames.add(manifest.name);
    manifests.push([d, manifest]);
  }
  for (const [d, manifest] of manifests) {
    const pkgDir = join(packagesDir, d);
    const rule = graph.packages[manifest.name];
    if (rule === undefined) {
      violations.push(`${manifest.name}: not in tools/check-deps/graph.json; add it with its allowed edges`);
      continue;
    }
    const allowed = new Set([...rule.workspace, ...rule.external]);
    const runtime = {
      ...manifest.dependencies,
      ...manifest.optionalDependencies,
      ...manifest.peerDependencies,
    };
    for (const dep of Object.keys(runtime)) {
      if (!allowed.has(dep)) {
        violations.push(`${manifest.name}: package.json depends on ${dep}, which the graph does not allow`);
      }
    }
    const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
    for (const file of walk(pkgDir)) {
      const rel = relative(pkgDir, file);
      if (rel.startsWith('node_modules') || rel.startsWith('dist')) continue;
      // A package's own build configuration (tsup.config.ts…) is never published and may use the
      // workspace's shared config at the root.
      if (/^[^/\\]+\.config\.[cm]?[jt]s$/.test(rel)) continue;
      const test = isTestFile(rel) || !rel.startsWith(`src${sep}`);
      const text = readFileSync(file, 'utf8');
      for (const spec of importsOf(text)) {
        if (spec.startsWith('node:') || BUILTINS.has(spec)) continue;
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(pkgDir + sep)) {
            violations.push(`${manifest.name}: ${rel} imports ${spec}, a path outside the package`);
          }
          continue;
        }
        const name = packageNameOf(spec);
        if (name === manifest.name) continue;
        if (!test) {
          if (!allowed.has(name)) {
            const kind = workspaceNames.has(name) ? 'sibling package' : 'external package';
            violations.push(
              `${manifest.name}: ${rel} imports ${kind} ${name}, which the graph does not allow`,
            );
          } else if (!(name in runtime)) {
            violations.push(`${manifest.name}: ${rel} imports ${name}, which package.json does not declare`);
          }
        } else if (!(name in runtime) && !dev.has(name) && !allowed.has(name) && !ROOT_DEV_TOOLS.has(name)) {
          violations.push(
            `${manifest.name}: ${rel} imports ${name}, declared neither as a dependency nor a devDependency`,
          );
        }
      }
    }
  }
  return violations;
}

// Tools every package's tests may use; they are devDependencies of the workspace root.
const ROOT_DEV_TOOLS = new Set(['vitest', 'fast-check', 'tsup']);
