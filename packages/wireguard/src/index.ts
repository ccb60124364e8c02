/**
 * @tsnet/wireguard: a complete WireGuard implementation in TypeScript — `Device`, peers, the Noise
 * IKpsk2 handshake, cookies, timers, allowed IPs — behind two seams, `Bind` (datagrams) and
 * `TunDevice` (IP packets). The `node:dgram` Bind is in `@tsnet/wireguard/node`; in-memory seams for
 * tests in `@tsnet/wireguard/testing`.
 *
 * Read first: `device.ts` (the driver), `device-core.ts` (the sans-IO core), then `peer.ts`,
 * `receive.ts`, `timers.ts` and `noise/handshake.ts`.
 */
export { AllowedIps } from './allowed-ips.js';
export type { Bind, TunDevice } from './bind.js';
export {
  parseWgConfig,
  type WgConfig,
  WgConfigError,
  type WgInterfaceConfig,
  type WgPeerConfig,
} from './config.js';
export * from './constants.js';
export type { DeviceCoreOutput, DeviceCounters, DeviceEvent, Endpoint } from './context.js';
export { CookieChecker, CookieGenerator } from './cookie.js';
export { Device, type DeviceEventMap, type DeviceOptions } from './device.js';
export {
  DeviceCore,
  type DeviceCoreOptions,
  type KeyInput,
  type PeerConfig,
  type PeerUpdate,
  parseKeyInput,
} from './device-core.js';
export { formatIp, formatPrefix, type IpPrefix, parseIp, parsePrefix } from './ip.js';
export {
  emitMessageCookieReply,
  emitMessageInitiation,
  emitMessageResponse,
  emitMessageTransport,
  type MessageCookieReply,
  type MessageInitiation,
  type MessageResponse,
  type MessageTransport,
  messageType,
  parseMessageCookieReply,
  parseMessageInitiation,
  parseMessageResponse,
  parseMessageTransport,
} from './messages.js';
export {
  beginSymmetricSession,
  commitInitiation,
  consumeMessageInitiation,
  consumeMessageResponse,
  createMessageInitiation,
  createMessageResponse,
  Handshake,
  type HandshakeState,
  NoiseIdentity,
  type SessionKeys,
} from './noise/handshake.js';
export { Keypair, Keypairs } from './noise/keypair.js';
export { type PeerStats, paddingSize } from './peer.js';
export { REPLAY_WINDOW_SIZE, ReplayFilter } from './replay.js';
export { tai64n, tai64nAfter } from './tai64n.js';
