/**
 * @tsnet/derp: The DERP relay protocol: frame codec, client (HTTP, TLS, WebSocket) and server.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
