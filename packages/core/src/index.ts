/**
 * @tsnet/core: the leaf package every other tsnet package builds on. Byte helpers, the crypto
 * provider (noble / node:crypto / sodium-native behind one interface), Curve25519 key types with
 * Tailscale's and WireGuard's text forms, IP address / prefix / address-port values with Go
 * `netip` text forms, `Clock`, `Logf` and `TsnetError`.
 */
export * from './bytes.js';
export * from './clock.js';
export * from './crypto/index.js';
export * from './errors.js';
export * from './key/index.js';
export * from './log.js';
export * from './net/index.js';
