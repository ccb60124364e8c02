/**
 * @tsnet/wireguard/node: the `node:dgram` UDP Bind, for talking to standard WireGuard peers, and
 * `deviceFromConfig` to run a `wg0.conf` in one call.
 *
 * @example
 * ```ts
 * import { Device } from '@tsnet/wireguard';
 * import { UdpBind } from '@tsnet/wireguard/node';
 * const dev = new Device({ privateKey, bind: new UdpBind({ port: 51820 }) });
 * ```
 */
export { type DeviceFromConfigOptions, deviceFromConfig } from './from-config.js';
export { parseUdpEndpoint, UdpBind, type UdpBindOptions } from './udp-bind.js';
