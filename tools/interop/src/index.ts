// @tsnet/interop: fixtures that start real Tailscale and WireGuard peers for `*.interop.test.ts`.
export {
  type ExitInfo,
  freeTcpPort,
  freeUdpPort,
  Proc,
  type RunResult,
  run,
  runOk,
  waitUntil,
} from './proc.js';
export {
  type Availability,
  binaryPath,
  cacheRoot,
  gopeerHash,
  type InteropWhat,
  interopAvailable,
  pinnedDir,
  pins,
} from './status.js';
export { describeInterop, isCI, type LogSource, missingPrerequisites, printLogsOnFailure } from './vitest.js';
export { startWgNetnsPeer, type WgNetnsPeer, type WgNetnsPeerOptions } from './wg-netns.js';
