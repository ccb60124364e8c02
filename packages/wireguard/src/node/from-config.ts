/**
 * `deviceFromConfig`: a Device from a WireGuard configuration file, listening on its `ListenPort`
 * with a `UdpBind` — the one-call path from a `wg0.conf` to a running tunnel in Node.
 */
import type { Bind } from '../bind.js';
import { parseWgConfig, type WgConfig } from '../config.js';
import { Device, type DeviceOptions } from '../device.js';
import { UdpBind } from './udp-bind.js';

export type DeviceFromConfigOptions = Omit<DeviceOptions, 'privateKey' | 'peers' | 'bind'> & {
  /** Defaults to `new UdpBind({ port: ListenPort })` (any free port without one). */
  bind?: Bind | undefined;
};

/**
 * Parses `config` (text or parsed) and returns a Device (not yet up) with its peers.
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { deviceFromConfig } from '@tsnet/wireguard/node';
 * const dev = deviceFromConfig(readFileSync('wg0.conf', 'utf8'));
 * await dev.up();
 * ```
 */
export function deviceFromConfig(config: string | WgConfig, options: DeviceFromConfigOptions = {}): Device {
  const cfg = typeof config === 'string' ? parseWgConfig(config) : config;
  const bind = options.bind ?? new UdpBind({ port: cfg.interface.listenPort });
  return Device.fromConfig(cfg, { ...options, bind });
}
