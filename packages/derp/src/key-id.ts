/**
 * Map keys for 32-byte node keys on the packet path: a latin1 string of the raw bytes (one native
 * call, no hex formatting), never printed. `NodePublic` is for the API; this is for lookups.
 */
import { NodePublic } from '@tsnet/core';

/** An opaque string identifying a 32-byte key; equal keys give equal ids. */
export type KeyId = string & { readonly __keyId: unique symbol };

export function keyId(raw: Uint8Array): KeyId {
  return Buffer.from(raw.buffer, raw.byteOffset, 32).toString('latin1') as KeyId;
}

export function keyFromId(id: KeyId): NodePublic {
  return NodePublic.fromBytes(Buffer.from(id, 'latin1'));
}
