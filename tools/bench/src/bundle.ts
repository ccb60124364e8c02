/**
 * The TypeScript runner as the bench runs it: one esbuild bundle of `tsnode.ts` and the workspace
 * sources it imports (through the `@tsnet/source` condition), run by plain `node`. That is what an
 * application shipping this library runs, without tsx's loader thread, per-file TypeScript
 * compilation at start-up and its `__name` helpers, so start-up time, memory and profiles are the
 * library's own. sodium-native stays external (a native addon; resolved from tools/bench's
 * node_modules). A linked source map lets the profile summary name the original files.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const OUT_DIR = resolve(here, '..', '.out');
export const BUNDLE = join(OUT_DIR, 'tsnode.mjs');

export async function bundleRunner(): Promise<string> {
  mkdirSync(OUT_DIR, { recursive: true });
  await build({
    entryPoints: [join(here, 'tsnode.ts')],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@tsnet/source'],
    external: ['sodium-native'],
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'error',
    // ESM output that still has `require` for any CommonJS dependency in the bundle.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return BUNDLE;
}
