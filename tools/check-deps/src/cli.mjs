#!/usr/bin/env node
// Usage: node tools/check-deps/src/cli.mjs [root]. Exits 1 and lists the violations if the graph is broken.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDeps } from './check-deps.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(process.argv[2] ?? join(here, '..', '..', '..'));
const graph = JSON.parse(readFileSync(join(here, '..', 'graph.json'), 'utf8'));
const violations = checkDeps(root, graph);
if (violations.length > 0) {
  console.error(`check-deps: ${violations.length} violation(s) of the package graph (shared/DESIGN.md §1):`);
  for (const v of violations) console.error(`  - ${v}`);
  process.exit(1);
}
console.log(`check-deps: the package graph holds (${Object.keys(graph.packages).length} packages)`);
