/**
 * Allowed IPs: the cryptokey routing table (WireGuard paper §2; wireguard-go `device/allowedips.go`).
 *
 * One binary trie per address family, one level per address bit, so that a lookup walks at most 32
 * (IPv4) or 128 (IPv6) nodes and returns the peer of the longest matching prefix. The table is used
 * both ways: outbound, the destination address picks the peer; inbound, a decrypted packet is
 * accepted only if its source address maps back to the peer that sent it.
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

/** A longest-prefix-match table from IP prefixes to peers of type `T`. */
export class AllowedIps<T> {
  readonly #v4: TrieNode<T> = newNode();
  readonly #v6: TrieNode<T> = newNode();

  /** Maps `prefix` (text like `10.0.0.0/24`, or a parsed prefix) to `peer`, replacing any earlier owner. */
  insert(prefix: string | IpPrefix, peer: T): void {
    const p = toPrefix(prefix);
    let node = p.addr.length === 4 ? this.#v4 : this.#v6;
    for (let i = 0; i < p.bits; i++) {
      if (bitAt(p.addr, i) === 0) node = node.zero ??= newNode();
      else node = node.one ??= newNode();
    }
    node.peer = peer;
  }

  /** The peer owning the longest prefix that contains `addr` (4 or 16 bytes), or `undefined`. */
  lookup(addr: Uint8Array): T | undefined {
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
  }

  /** The prefixes owned by `peer`, IPv4 first, in address order. */
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
    walk(this.#v4, new Uint8Array(4), 0);
    walk(this.#v6, new Uint8Array(16), 0);
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
