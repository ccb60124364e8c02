/**
 * @tsnet/control: The Tailscale control-protocol client: ts2021 Noise, HTTP/2, register, the map stream and the netmap.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
