// @tsnet/interop: fixtures that start real Tailscale and WireGuard peers for `*.interop.test.ts`.
export {
  type Derper,
  type DerperOptions,
  type DerpMapJson,
  type DerpNodeJson,
  type DerpRegionJson,
  derpMapYaml,
  startDerper,
} from './derper.js';
export { type GoPeer, type GoPeerOptions, type GoPeerUp, startGoPeer } from './gopeer.js';
export {
  type Headscale,
  type HeadscaleNode,
  type HeadscaleOptions,
  type HeadscaleUser,
  type PreAuthKeyOptions,
  startHeadscale,
} from './headscale.js';
export { kernelPing } from './kernel-ping.js';
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
export { type HttpResponse, socks5Connect, socks5Exchange, socks5HttpGet } from './socks5.js';
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
export {
  type PeerStatus,
  type PingOptions,
  type PingResult,
  type Pong,
  parsePongs,
  startTailscaled,
  type Tailscaled,
  type TailscaledOptions,
  type TailscaleStatus,
  type UpOptions,
} from './tailscaled.js';
export { describeInterop, isCI, type LogSource, missingPrerequisites, printLogsOnFailure } from './vitest.js';
export { startWgNetnsPeer, type WgNetnsPeer, type WgNetnsPeerOptions } from './wg-netns.js';
