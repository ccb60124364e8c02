// The end-to-end bench (tools/bench): our TypeScript node against Go tsnet, side by side.
//
//   npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source tools/bench/bench/e2e.bench.ts [--quick]
//
// Flags: --quick (1 rep of 1 s, 5 nodes), --reps=N, --seconds=S, --multi=N, --only=raw,direct,loss,
// derp,rr,ttfb,memory,profile, --no-netns, --no-profile, --verbose, --json=FILE. See ../README.md.
import { main } from '../src/e2e.js';

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
