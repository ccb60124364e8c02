// A TypeDoc plugin for this workspace: each entry point (packages/<dir>/src/index.ts) becomes a
// module named after its package.json (`@tsnet/core`, …, `tsnet`) rather than its path
// (`core/src`), so the API docs read as the npm packages do. Loaded by typedoc.json.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (!reflection.kindOf(ReflectionKind.Module)) return;
    const file = context.getSymbolFromReflection(reflection)?.declarations?.[0]?.getSourceFile().fileName;
    if (file === undefined) return;
    // packages/<dir>/src/index.ts → packages/<dir>/package.json
    const manifest = join(dirname(dirname(file)), 'package.json');
    try {
      reflection.name = JSON.parse(readFileSync(manifest, 'utf8')).name;
    } catch (err) {
      app.logger.warn(`typedoc-plugin: no package name for ${file}: ${err.message}`);
    }
  });
}
