/**
 * Demultiplexing keys: the connection table is a `Map` keyed by the 4-tuple as a string.
 */

/** A compact string for an address (4 or 16 bytes). */
export function addrKey(a: Uint8Array): string {
  if (a.length === 4) return String(((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0);
  let s = '';
  for (let i = 0; i < 16; i += 2) s += `${((a[i]! << 8) | a[i + 1]!).toString(16)}:`;
  return s;
}

/** The key of a TCP connection from our side's point of view. */
export function connKey(
  local: Uint8Array,
  localPort: number,
  remote: Uint8Array,
  remotePort: number,
): string {
  return `${addrKey(remote)}|${remotePort}|${localPort}|${addrKey(local)}`;
}
