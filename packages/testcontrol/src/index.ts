/**
 * @tsnet/testcontrol: An in-process tailnet for tests and demos: control server, DERP and STUN.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
