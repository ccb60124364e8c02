/**
 * @tsnet/netstack: a user-space IPv4/IPv6 TCP/IP stack with sockets exposed as Node streams, over
 * any packet link. Start with `Stack` (stack.ts) and `createPipe` (link/pipe.ts); the protocol
 * cores are in `tcp/` and `wire/`.
 */
export { type Clock, FakeClock, systemClock, type TimerHandle } from './clock.js';
export type { DropReason, StackCounters } from './counters.js';
export { NetstackError, type NetstackErrorCode } from './errors.js';
export type { LinkEndpoint } from './link/link.js';
export { createPipe, type Pipe, type PipeFaults, type PipeOptions, type PipeStats } from './link/pipe.js';
export { cryptoRandom32, type Random32, seededRandom } from './random.js';
export { type ConnectOptions, type Logf, Stack, type StackOptions } from './stack.js';
export type { CongestionAlgorithm } from './tcp/congestion.js';
export { DEFAULT_TCP_CONFIG, type TcpConfig, type TcpErrorCode, type TcpState } from './tcp/options.js';
export { TcpServer, type TcpServerOptions } from './tcp-server.js';
export { TcpSocket } from './tcp-socket.js';
export { type RemoteInfo, UdpSocket, type UdpSocketType } from './udp-socket.js';
