/**
 * @tsnet/wireguard: A complete WireGuard implementation in TypeScript: Device, peers, handshake, cookies, timers, allowed IPs, and Bind/TunDevice seams.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
