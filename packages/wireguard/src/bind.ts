/**
 * The two seams of a device (DESIGN.md §2; wireguard-go `conn.Bind` and `tun.Device`):
 * - `Bind` carries encrypted datagrams to and from endpoints (a UDP socket, magicsock, a test pipe);
 * - `TunDevice` carries plaintext IP packets to and from the application side (a TUN, a user-space
 *   TCP/IP stack, a test pipe).
 *
 * Ownership: a `Uint8Array` passed to a callback or to `send`/`write` belongs to the receiver from
 * then on; the caller must not touch it again (so the device can decrypt in place and the Bind can
 * hand a buffer to the kernel without copying).
 */
import type { Endpoint } from './context.js';

/**
 * Carries encrypted datagrams between the device and endpoints (wireguard-go `conn.Bind`):
 * `UdpBind` from `@tsnet/wireguard/node`, `ChannelBind` from `@tsnet/wireguard/testing`, magicsock.
 */
export interface Bind {
  /** Starts receiving: calls `receive` once per datagram. May be async (binding a socket). */
  open(receive: (data: Uint8Array, from: Endpoint) => void): Promise<void> | void;
  /** Sends one datagram to `to` (takes ownership). Errors may be thrown; the device counts them. */
  send(data: Uint8Array, to: Endpoint): void;
  /** Stops receiving and releases resources. */
  close(): Promise<void> | void;
}

/**
 * Carries plaintext IP packets between the device and the application side (wireguard-go
 * `tun.Device`): a user-space TCP/IP stack such as `@tsnet/netstack`, or a test pipe.
 */
export interface TunDevice {
  /** Starts reading: calls `onPacket` with each IP packet to send through the tunnel. */
  open(onPacket: (packet: Uint8Array) => void): Promise<void> | void;
  /** Writes a decrypted IP packet received from the tunnel (takes ownership). */
  write(packet: Uint8Array): void;
  /** Stops reading and releases resources (`Device.close` awaits it after closing the Bind). */
  close(): Promise<void> | void;
}
