/**
 * Allowed IPs: the cryptokey routing table (WireGuard paper §2; wireguard-go `device/allowedips.go`).
 *
 * One binary trie per address family, one level per address bit, so that a lookup walks at most 32
 * (IPv4) or 128 (IPv6) nodes and returns the peer of the longest matching prefix. The table is used
 * both ways: outbound, the destination address picks the peer; inbound, a decrypted packet is
 * accepted only if its source address maps back to the peer that sent it.
 *
 * Host routes (/32 and /128: every Tailscale peer has one of each, and a netmap may hold
 * thousands) are kept apart in a hash map keyed by the address, since a host route is always the
 * longest possible match: a lookup tries it first, in O(1), and walks the trie only for shorter
 * prefixes. This keeps the trie small (one node per bit of the few subnet routes) and a 10,000-peer
 * table at one map entry per address instead of 32 or 128 trie nodes.
 *
 * Inserting a prefix that is already present moves it to the new peer, as in wireguard-go.
 */
import { formatPrefix, type IpPrefix, maskPrefix, parsePrefix } from './ip.js';

interface TrieNode<T> {
  zero: TrieNode<T> | undefined;
  one: TrieNode<T> | undefined;
  peer: T | undefined;
}

function newNode<T>(): TrieNode<T> {
  return { zero: undefined, one: undefined, peer: undefined };
}

function bitAt(addr: Uint8Array, i: number): number {
  return (addr[i >> 3]! >> (7 - (i & 7))) & 1;
}

/** The key of a host route: the address as a number (IPv4) or an 8-character string (IPv6). */
function hostKey(addr: Uint8Array): number | string {
  if (addr.length === 4) return ((addr[0]! << 24) | (addr[1]! << 16) | (addr[2]! << 8) | addr[3]!) >>> 0;
  let k = '';
  for (let i = 0; i < 16; i += 2) k += String.fromCharCode((addr[i]! << 8) | addr[i + 1]!);
  return k;
}

function hostAddr(key: number | string): Uint8Array {
  const a = new Uint8Array(typeof key === 'number' ? 4 : 16);
  if (typeof key === 'number') {
    a[0] = key >>> 24;
    a[1] = (key >>> 16) & 0xff;
    a[2] = (key >>> 8) & 0xff;
    a[3] = key & 0xff;
  } else {
    for (let i = 0; i < 8; i++) {
      const w = key.charCodeAt(i);
      a[2 * i] = w >> 8;
      a[2 * i + 1] = w & 0xff;
    }
  }
  return a;
}

/** A longest-prefix-match table from IP prefixes to peers of type `T`. */
export class AllowedIps<T> {
  readonly #v4: TrieNode<T> = newNode();
  readonly #v6: TrieNode<T> = newNode();
  /** Host routes (/32, /128), checked before the tries. */
  readonly #hosts = new Map<number | string, T>();
  /** The host routes of each peer, so removing a peer costs its own routes, not the table. */
  readonly #hostsByPeer = new Map<T, Set<number | string>>();

  /** Maps `prefix` (text like `10.0.0.0/24`, or a parsed prefix) to `peer`, replacing any earlier owner. */
  insert(prefix: string | IpPrefix, peer: T): void {
    const p = toPrefix(prefix);
    if (p.bits === p.addr.length * 8) {
      const key = hostKey(p.addr);
      const old = this.#hosts.get(key);
      if (old !== undefined) this.#hostsByPeer.get(old)?.delete(key);
      this.#hosts.set(key, peer);
      let set = this.#hostsByPeer.get(peer);
      if (set === undefined) {
        set = new Set();
        this.#hostsByPeer.set(peer, set);
      }
      set.add(key);
      return;
    }
    let node = p.addr.length === 4 ? this.#v4 : this.#v6;
    for (let i = 0; i < p.bits; i++) {
      if (bitAt(p.addr, i) === 0) node = node.zero ??= newNode();
      else node = node.one ??= newNode();
    }
    node.peer = peer;
  }

  /** The peer owning the longest prefix that contains `addr` (4 or 16 bytes), or `undefined`. */
  lookup(addr: Uint8Array): T | undefined {
    if (addr.length !== 4 && addr.length !== 16) return undefined;
    if (this.#hosts.size > 0) {
      const host = this.#hosts.get(hostKey(addr));
      if (host !== undefined) return host;
    }
    let node: TrieNode<T> | undefined;
    let bits: number;
    if (addr.length === 4) {
      node = this.#v4;
      bits = 32;
    } else if (addr.length === 16) {
      node = this.#v6;
      bits = 128;
    } else {
      return undefined;
    }
    let best: T | undefined;
    for (let i = 0; node !== undefined; i++) {
      if (node.peer !== undefined) best = node.peer;
      if (i === bits) break;
      node = bitAt(addr, i) === 0 ? node.zero : node.one;
    }
    return best;
  }

  /** Removes `prefix` if present; true if it was. */
  remove(prefix: string | IpPrefix): boolean {
    const p = toPrefix(prefix);
    if (p.bits === p.addr.length * 8) {
      const key = hostKey(p.addr);
      const old = this.#hosts.get(key);
      if (old === undefined) return false;
      this.#hosts.delete(key);
      this.#hostsByPeer.get(old)?.delete(key);
      return true;
    }
    const path: TrieNode<T>[] = [];
    let node: TrieNode<T> | undefined = p.addr.length === 4 ? this.#v4 : this.#v6;
    for (let i = 0; i < p.bits && node !== undefined; i++) {
      path.push(node);
      node = bitAt(p.addr, i) === 0 ? node.zero : node.one;
    }
    if (node === undefined || node.peer === undefined) return false;
    node.peer = undefined;
    // Prune empty leaves back up the path.
    for (let i = path.length - 1; i >= 0; i--) {
      const parent = path[i]!;
      const child = bitAt(p.addr, i) === 0 ? parent.zero : parent.one;
      if (child === undefined || child.peer !== undefined || child.zero || child.one) break;
      if (bitAt(p.addr, i) === 0) parent.zero = undefined;
      else parent.one = undefined;
    }
    return true;
  }

  /** Removes every prefix owned by `peer`. */
  removeByPeer(peer: T): void {
    const prune = (node: TrieNode<T>): boolean => {
      if (node.peer === peer) node.peer = undefined;
      if (node.zero && prune(node.zero)) node.zero = undefined;
      if (node.one && prune(node.one)) node.one = undefined;
      return node.peer === undefined && node.zero === undefined && node.one === undefined;
    };
    prune(this.#v4);
    prune(this.#v6);
    for (const k of this.#hostsByPeer.get(peer) ?? []) this.#hosts.delete(k);
    this.#hostsByPeer.delete(peer);
  }

  /** The prefixes owned by `peer`: IPv4 subnets in address order, then IPv4 hosts in insertion order, then the same for IPv6. */
  entriesForPeer(peer: T): IpPrefix[] {
    const out: IpPrefix[] = [];
    const walk = (node: TrieNode<T>, addr: Uint8Array, depth: number) => {
      if (node.peer === peer) out.push({ addr: maskPrefix(addr, depth), bits: depth });
      if (node.zero) walk(node.zero, addr, depth + 1);
      if (node.one) {
        const a = new Uint8Array(addr);
        a[depth >> 3] = a[depth >> 3]! | (0x80 >> (depth & 7));
        walk(node.one, a, depth + 1);
      }
    };
    const hosts = [...(this.#hostsByPeer.get(peer) ?? [])];
    walk(this.#v4, new Uint8Array(4), 0);
    for (const k of hosts) if (typeof k === 'number') out.push({ addr: hostAddr(k), bits: 32 });
    walk(this.#v6, new Uint8Array(16), 0);
    for (const k of hosts) if (typeof k === 'string') out.push({ addr: hostAddr(k), bits: 128 });
    return out;
  }

  /** Text forms of `entriesForPeer`. */
  prefixesForPeer(peer: T): string[] {
    return this.entriesForPeer(peer).map(formatPrefix);
  }
}

function toPrefix(prefix: string | IpPrefix): IpPrefix {
  if (typeof prefix !== 'string') {
    const max = prefix.addr.length * 8;
    if (
      (max !== 32 && max !== 128) ||
      prefix.bits < 0 ||
      prefix.bits > max ||
      !Number.isInteger(prefix.bits)
    ) {
      throw new RangeError(`prefix: invalid address length or bits`);
    }
    return { addr: maskPrefix(prefix.addr, prefix.bits), bits: prefix.bits };
  }
  const p = parsePrefix(prefix);
  if (p === null) throw new TypeError(`prefix: not an IP prefix: ${JSON.stringify(prefix)}`);
  return p;
}
