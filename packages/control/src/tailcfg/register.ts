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
  AuthKey: z.string().optional(),
});

/** `tailcfg.RegisterRequest` (parsed, e.g. by a test control server). */
export const RegisterRequestSchema = z.object({
  Version: goInt,
  NodeKey: nodePublic,
  OldNodeKey: nodePublic.optional(),
  NLKey: z.string().optional(),
  Auth: RegisterResponseAuthSchema.nullish().transform((v) => v ?? undefined),
  Expiry: goTime.optional(),
  Followup: z.string().optional(),
  Hostinfo: HostinfoSchema.nullish().transform((v) => v ?? undefined),
  Ephemeral: z.boolean().optional(),
  NodeKeySignature: z.string().nullish(),
  Timestamp: goTime.nullish().transform((v) => v ?? undefined),
  Tailnet: z.string().optional(),
});

/** A RegisterRequest as this client sends it (`JSON.stringify` gives Go's wire form). */
export interface RegisterRequest {
  Version: number;
  NodeKey: NodePublic;
  OldNodeKey: NodePublic;
  NLKey: string;
  Auth?: { AuthKey: string };
  /** Go zero time = no change; a time in the past = log out. */
  Expiry: Date;
  Followup: string;
  Hostinfo: Hostinfo;
  Ephemeral?: boolean;
  Timestamp?: Date;
}

/** `tailcfg.RegisterResponse`. `Error` non-empty is a fatal login error in the server's words. */
export const RegisterResponseSchema = z.object({
  User: UserSchema.nullish().transform((v) => v ?? undefined),
  Login: LoginSchema.nullish().transform((v) => v ?? undefined),
  NodeKeyExpired: z.boolean().optional(),
  MachineAuthorized: z.boolean().optional(),
  AuthURL: z.string().optional(),
  NodeKeySignature: z.string().nullish(),
  Error: z.string().optional(),
});
export type RegisterResponse = z.output<typeof RegisterResponseSchema>;

/**
 * `tailcfg.OverTLSPublicKeyResponse`, the JSON answer of `GET /key?v=<capver>`. Only
 * `publicKey` (the ts2021 Noise key) is used; `legacyPublicKey` is zero on modern servers.
 */
export const OverTLSPublicKeyResponseSchema = z.object({
  legacyPublicKey: machinePublic.optional(),
  publicKey: machinePublic,
});
export type OverTLSPublicKeyResponse = z.output<typeof OverTLSPublicKeyResponseSchema>;
