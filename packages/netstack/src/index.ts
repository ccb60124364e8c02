/**
 * @tsnet/netstack: A user-space IPv4/IPv6 TCP/IP stack with sockets exposed as Node streams, over any packet link.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
