// The one tsup configuration every published package builds with: ESM for Node 20, declarations,
// source maps. A package's tsup.config.ts passes only its entry points.
import { defineConfig, type Options } from 'tsup';

export function packageConfig(entry: string[] = ['src/index.ts']): ReturnType<typeof defineConfig> {
  const options: Options = {
    entry,
    format: ['esm'],
    target: 'node20',
    dts: true,
    sourcemap: true,
    clean: true,
    treeshake: true,
  };
  return defineConfig(options);
}
