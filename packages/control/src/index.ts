/**
 * @tsnet/control: the Tailscale control-protocol client.
 *
 * - `ControlClient` (./client.ts): register, watch the netmap, lite updates, logout, close.
 * - the netmap (./netmap): an immutable value and the pure `applyMapResponse`.
 * - ts2021 (./ts2021): `/key`, the Noise IK handshake, HTTP/2 over Noise.
 * - tailcfg (./tailcfg): zod schemas of the JSON types, with Go's encoding conventions.
 *
 * Read README.md first; wire facts cite tailscale/tailscale v1.102.3 and headscale v0.29.2.
 */
export {
  CAPABILITY_VERSION,
  ControlClient,
  type ControlClientOptions,
  type ControlClientStats,
  type ControlState,
  type Endpoint,
} from './client.js';
export {
  ControlClosedError,
  ControlHandshakeError,
  ControlHttpError,
  ControlLoginError,
  ControlProtocolError,
  ControlUnreachableError,
} from './errors.js';
export { DEFAULT_MAX_MAP_MESSAGE, encodeMapFrame, MapFrameDecoder } from './map/frames.js';
export {
  type MapPollParams,
  type MapPollStats,
  pollMap,
  sendLiteUpdate,
  WATCHDOG_TIMEOUT_MS,
} from './map/poll.js';
export * from './netmap/index.js';
export { LOGOUT_EXPIRY_MS, logout, type RegisterParams, type RegisterResult, register } from './register.js';
export * from './tailcfg/index.js';
export {
  createInitiation,
  type DialOptions,
  dialNoise,
  fetchServerKey,
  type HttpResult,
  NoiseConn,
  NoiseHttpClient,
  type PendingHandshake,
  type RequestOptions,
  type TransportKeys,
  WebSocketStream,
} from './ts2021/index.js';
export { encodeFrame as encodeWebSocketFrame, websocketAccept } from './ts2021/websocket.js';
