/**
 * Registration: `tailcfg.RegisterRequest`, `RegisterResponseAuth`, `RegisterResponse`, and the
 * `/key` answer `OverTLSPublicKeyResponse` (tailscale/tailscale `tailcfg/tailcfg.go`).
 *
 * Go JSON details that matter here: `RegisterRequest.Expiry` has no `omitempty`, so the zero time
 * is sent as `"0001-01-01T00:00:00Z"` ("no change") and a time in the past means logout; key
 * fields never accept `""` (send the all-zero typed form for "none").
 */

import type { NodePublic } from '@tsnet/core';
import { z } from 'zod';
import { goInt, goTime, machinePublic, nodePublic } from './go.js';
import { type Hostinfo, HostinfoSchema, LoginSchema, UserSchema } from './node.js';

/** The all-zero tailnet-lock key, as Go marshals a zero `key.NLPublic`. */
export const ZERO_NL_PUBLIC = `nlpub:${'0'.repeat(64)}`;

/** `tailcfg.RegisterResponseAuth`. */
export const RegisterResponseAuthSchema = z.object({
  /** The pre-authorized key (`tskey-auth-…` or a headscale pre-auth key). */
  AuthKey: z.string().optional(),
});

/** `tailcfg.RegisterRequest` (parsed, e.g. by a test control server). */
export const RegisterRequestSchema = z.object({
  /** The client's capability version. */
  Version: goInt,
  /** The node key to register. */
  NodeKey: nodePublic,
  /** The node key this one replaces (key rotation or forced re-login), or the zero key. */
  OldNodeKey: nodePublic.optional(),
  /** The Tailnet Lock public key of the node (`nlpub:…`). */
  NLKey: z.string().optional(),
  /** How to authenticate: an auth key, or absent for an interactive login. */
  Auth: RegisterResponseAuthSchema.nullish().transform((v) => v ?? undefined),
  /** When the node key should expire: Go's zero time for "no change", a time in the past to log out. */
  Expiry: goTime.optional(),
  /** The AuthURL of an interactive login to wait on (a long poll), or empty. */
  Followup: z.string().optional(),
  /** The node's host info. */
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  /** Whether the node should be ephemeral. */
  Ephemeral: z.boolean().optional(),
  /** The node key's Tailnet Lock signature, or absent. */
  NodeKeySignature: z.string().nullish(),
  /** When the client sent the request. */
  Timestamp: goTime.nullish().transform((v) => v ?? undefined),
  /** The tailnet to join, for control servers with several, or empty. */
  Tailnet: z.string().optional(),
});

/** A RegisterRequest as this client sends it (`JSON.stringify` gives Go's wire form). */
export interface RegisterRequest {
  /** The client's capability version (`CAPABILITY_VERSION`). */
  Version: number;
  /** The node key to register. */
  NodeKey: NodePublic;
  /** The node key this one replaces, or the zero key. */
  OldNodeKey: NodePublic;
  /** Our Tailnet Lock public key (`ZERO_NL_PUBLIC` for none). */
  NLKey: string;
  /** The auth key to register with; absent for an interactive login. */
  Auth?: {
    /** The pre-authorized key (`tskey-auth-…` or a headscale pre-auth key). */
    AuthKey: string;
  };
  /** Go zero time = no change; a time in the past = log out. */
  Expiry: Date;
  /** The AuthURL of an interactive login to wait on, or empty. */
  Followup: string;
  /** Our host info. */
  Hostinfo: Hostinfo;
  /** Whether to register as an ephemeral node. */
  Ephemeral?: boolean;
  /** When we sent the request. */
  Timestamp?: Date;
}

/** `tailcfg.RegisterResponse`. `Error` non-empty is a fatal login error in the server's words. */
export const RegisterResponseSchema = z.object({
  /** The user the node now belongs to. */
  User: UserSchema.nullish().transform((v) => v ?? undefined),
  /** The login that registered it. */
  Login: LoginSchema.nullish().transform((v) => v ?? undefined),
  /** Whether the node key has expired (the node must log in again). */
  NodeKeyExpired: z.boolean().optional(),
  /** Whether the node is authorized (false: waiting for device approval). */
  MachineAuthorized: z.boolean().optional(),
  /** A URL the user must open to log in (interactive login), or empty. */
  AuthURL: z.string().optional(),
  /** The node key's Tailnet Lock signature, or absent. */
  NodeKeySignature: z.string().nullish(),
  /** A fatal login error in the server's words (a bad or expired key), or empty. */
  Error: z.string().optional(),
});
/** A `tailcfg.RegisterResponse`, as parsed by `RegisterResponseSchema`. */
export type RegisterResponse = z.output<typeof RegisterResponseSchema>;

/**
 * `tailcfg.OverTLSPublicKeyResponse`, the JSON answer of `GET /key?v=<capver>`. Only
 * `publicKey` (the ts2021 Noise key) is used; `legacyPublicKey` is zero on modern servers.
 */
export const OverTLSPublicKeyResponseSchema = z.object({
  /** The legacy (pre-Noise) machine key of the server; zero on modern servers. */
  legacyPublicKey: machinePublic.optional(),
  /** The server's Noise public key, for the ts2021 handshake. */
  publicKey: machinePublic,
});
/** A `tailcfg.OverTLSPublicKeyResponse`, as parsed by `OverTLSPublicKeyResponseSchema`. */
export type OverTLSPublicKeyResponse = z.output<typeof OverTLSPublicKeyResponseSchema>;
