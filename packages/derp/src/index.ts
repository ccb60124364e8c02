/**
 * @tsnet/derp: the DERP relay protocol (Tailscale's Designated Encrypted Relay for Packets): the
 * frame codec (`wire/`), a server (`server/`), a client (`client/`) and DERP-map region handling
 * (`region/`). It relays opaque datagrams between Curve25519 node keys and knows nothing of
 * WireGuard or control. Start with README.md; the wire facts are in `wire/constants.ts`.
 */
export * from './wire/index.js';
