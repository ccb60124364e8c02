#!/usr/bin/env -S npx tsx --conditions=@tsnet/source
/**
 * tsnet-derper: a DERP relay (and STUN responder) on @tsnet/derp.
 *
 *   npx pnpm@10.34.9 --filter @tsnet/app-derper start -- --addr 127.0.0.1:3340 --certmode self-signed
 */
import { lineLogf } from '@tsnet/core';
import { parseOptions, USAGE } from './options.js';
import { runDerper } from './run.js';

const logf = lineLogf((line) => process.stderr.write(line));

let opts: ReturnType<typeof parseOptions>;
try {
  opts = parseOptions(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`tsnet-derper: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const running = await runDerper(opts, logf);
const stop = () => {
  logf('derper: shutting down');
  void running.close().then(() => process.exit(0));
  setTimeout(() => process.exit(1), 3000).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
