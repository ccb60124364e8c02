/**
 * zod schemas and types for the `tailcfg` JSON a control client reads and writes, with Go's
 * encoding conventions (see `./go.ts`).
 */
export * from './decode.js';
export * from './derp.js';
export * from './dns.js';
export * from './filter.js';
export * from './go.js';
export * from './map.js';
export * from './node.js';
export * from './register.js';
