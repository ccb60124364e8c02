/**
 * @tsnet/localapi: LocalAPI handlers and LocalClient: WhoIs, status, prefs; in-process or against a real tailscaled.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
