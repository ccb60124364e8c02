/**
 * @tsnet/core: the leaf package every other tsnet package builds on. Byte helpers, the crypto
 * provider (noble / node:crypto / sodium-native behind one interface), Curve25519 key types with
 * Tailscale's and WireGuard's text forms, IP address / prefix / address-port values with Go
 * `netip` text forms, `Clock`, `Logf` and `TsnetError`.
 */
export * from './bytes.js';
export * from './crypto/index.js';
