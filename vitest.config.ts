// One vitest run for the whole workspace: a project per package, app and tool, each resolving
// sibling packages to their src/ through the `@tsnet/source` export condition (no build needed).
// Interop tests (`*.interop.test.ts`) talk to real peers and run with the rest of their project;
// each bounds its own waits (and sets its own timeouts) so that they hold on a loaded 2-core machine.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const groups = ['packages', 'apps', 'tools'];
const dirs = groups.flatMap((g) =>
  existsSync(g)
    ? readdirSync(g, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => join(g, d.name))
    : [],
);

const conditions = ['@tsnet/source'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    projects: dirs.map((dir) => ({
      extends: true,
      test: {
        name: dir.split('/')[1] ?? dir,
        root: dir,
        include: ['{src,test,fuzz}/**/*.test.ts'],
        exclude: ['**/node_modules/**', '**/dist/**'],
        testTimeout: 20_000,
        hookTimeout: 60_000,
      },
    })),
  },
});
