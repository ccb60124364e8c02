/**
 * tsnet: An embedded Tailscale node for Node.js: listen and dial on your tailnet from inside your program.
 *
 * Nothing is exported yet: this package is a placeholder in the workspace until its issue lands.
 * See README.md for what it will hold.
 */
export {};
