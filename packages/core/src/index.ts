/**
 * @tsnet/core: Keys, the crypto provider, network values, Clock, Logf and TsnetError: the leaf every other tsnet package builds on.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
