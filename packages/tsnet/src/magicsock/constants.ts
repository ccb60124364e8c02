/** Path-selection timings of magicsock (tailscale `wgengine/magicsock/magicsock.go`, `tsconst`). */

/** How often the active direct path is pinged while a session is active. */
export const HEARTBEAT_INTERVAL_MS = 3_000;
/** How long a Pong keeps a direct path trusted (UDP only, no DERP copy). */
export const TRUST_UDP_ADDR_MS = 6_500;
/** A session is active if data was sent within this long; heartbeats stop after it. */
export const SESSION_ACTIVE_TIMEOUT_MS = 45_000;
/** Full re-discovery (ping every candidate) this often, unless the current path is good enough. */
export const UPGRADE_INTERVAL_MS = 60_000;
/** A direct path this fast is not worth looking past. */
export const GOOD_ENOUGH_LATENCY_MS = 5;
/** Least time between two disco pings to one endpoint. */
export const DISCO_PING_INTERVAL_MS = 5_000;
/** A ping without a pong after this long is forgotten. */
export const PING_TIMEOUT_MS = 5_000;
/** The most candidate endpoints kept per peer, and pings outstanding per peer. */
export const MAX_CANDIDATES = 64;
export const MAX_PENDING_PINGS = 128;
/** `tailcfg.DerpMagicIP`: `127.3.3.40:<region>` names "via DERP region N". */
export const DERP_MAGIC_IP = '127.3.3.40';
