/** ts2021: the Noise transport to control and HTTP/2 over it. */
export { type HttpResult, NoiseHttpClient, type OpenResponse, type RequestOptions } from './client.js';
export { NoiseConn, type NoiseConnOptions, type NoiseConnStats } from './conn.js';
export { type DialOptions, dialNoise, fetchServerKey } from './dial.js';
export { EarlyPayloadStripper } from './early.js';
export { createInitiation, type PendingHandshake, type TransportKeys } from './handshake.js';
export * from './messages.js';
export { RecordOpener, RecordSealer } from './records.js';
export { dialWebSocket, encodeFrame, WebSocketStream } from './websocket.js';
