/**
 * @tsnet/wireguard/testing: in-memory `Bind` and `TunDevice` implementations for tests — run two
 * or more Devices in one process, on a fake clock, with seeded faults.
 *
 * @example
 * ```ts
 * import { ChannelNetwork, ChannelTun } from '@tsnet/wireguard/testing';
 * const net = new ChannelNetwork();
 * const bindA = net.bind('a:1'), bindB = net.bind('b:1');
 * ```
 */
export {
  ChannelBind,
  type ChannelDatagram,
  ChannelNetwork,
  type ChannelNetworkOptions,
  ChannelTun,
} from './channel.js';
