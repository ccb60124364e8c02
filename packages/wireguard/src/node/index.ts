/**
 * @tsnet/wireguard/node: the `node:dgram` UDP Bind, for talking to standard WireGuard peers.
 *
 * @example
 * ```ts
 * import { Device } from '@tsnet/wireguard';
 * import { UdpBind } from '@tsnet/wireguard/node';
 * const dev = new Device({ privateKey, bind: new UdpBind({ port: 51820 }) });
 * ```
 */
export { parseUdpEndpoint, UdpBind, type UdpBindOptions } from './udp-bind.js';
