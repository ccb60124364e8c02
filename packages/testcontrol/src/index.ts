/**
 * @tsnet/testcontrol: an in-process tailnet for tests and demos — a control server (ts2021 Noise +
 * HTTP/2, register, streaming map with deltas), an embedded DERP server and STUN, all on
 * 127.0.0.1, with an admin API (in-process and over HTTP). Real Tailscale clients accept it.
 *
 * Start with `TestTailnet.start()` (./tailnet.ts) and README.md.
 */
export type {
  AuthKeyInfo,
  AuthKeyOptions,
  NodeInfo,
  PendingLogin,
  UserInfo,
} from './model.js';
export { encodeErrorMessage, type Refused, type Responded, respondToInitiation } from './noise/responder.js';
export {
  canSee,
  compileFilter,
  FILTER_ALLOW_ALL,
  type FilterRuleWire,
  type Grant,
  type Policy,
  validatePolicy,
} from './policy.js';
export {
  type NodeRef,
  type PingOptions,
  type PingResult,
  TestTailnet,
  type TestTailnetOptions,
} from './tailnet.js';
export { zstdRawFrame } from './zstd.js';
