/**
 * The seam between the stack and whatever carries its IP packets (a TUN device, a WireGuard
 * tunnel, a WebSocket, the in-memory `createPipe`). Modelled on gVisor's `stack.LinkEndpoint`,
 * reduced to what a point-to-point IP link needs: no link-layer addresses, no ARP/NDP.
 *
 * Ownership: `writePacket` takes ownership of the array (the link may keep it, queue it, or
 * hand it on without copying; the stack never touches it again). Packets delivered to the
 * stack likewise become the stack's (it may keep views into them, e.g. buffered UDP datagrams).
 */
export interface LinkEndpoint {
  /** Largest IP packet the link carries, in bytes (1280 on a tailnet). */
  readonly mtu: number;
  /** Sends one IP packet (IPv4 or IPv6, no link header). Takes ownership of `pkt`. */
  writePacket(pkt: Uint8Array): void;
  /** Sets the function the link calls with every inbound IP packet (ownership passes with it). */
  attach(deliver: (pkt: Uint8Array) => void): void;
}
