/** Backend selection: availability order, the memoised default, TSNET_CRYPTO, and the errors for unknown or unavailable names. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  availableCryptoBackends,
  CRYPTO_BACKENDS,
  createCryptoProvider,
  getCryptoProvider,
} from './select.js';

describe('backend selection', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('lists the available backends fastest first, noble always last', () => {
    const list = availableCryptoBackends();
    expect(list.at(-1)).toBe('noble');
    expect(list).toEqual(CRYPTO_BACKENDS.filter((n) => list.includes(n)));
  });

  it('defaults to the fastest available backend, memoised', () => {
    vi.stubEnv('TSNET_CRYPTO', '');
    const p = getCryptoProvider();
    expect(p.name).toBe(availableCryptoBackends()[0]);
    expect(getCryptoProvider()).toBe(p);
  });

  it.each(['noble', 'node'] as const)('honours TSNET_CRYPTO=%s', async (name) => {
    vi.stubEnv('TSNET_CRYPTO', name);
    vi.resetModules();
    const fresh = await import('./select.js');
    expect(fresh.getCryptoProvider().name).toBe(name);
  });

  it('throws for an unknown TSNET_CRYPTO rather than testing another backend', async () => {
    vi.stubEnv('TSNET_CRYPTO', 'openssl');
    vi.resetModules();
    const fresh = await import('./select.js');
    expect(() => fresh.getCryptoProvider()).toThrow(
      /^TSNET_CRYPTO must be one of sodium, node, noble, got "openssl"$/,
    );
  });

  it('creates each available backend by name, with that name', () => {
    for (const name of availableCryptoBackends()) expect(createCryptoProvider(name).name).toBe(name);
  });

  it('throws RangeError for an unknown name', () => {
    expect(() => createCryptoProvider('wasm' as never)).toThrow(RangeError);
    expect(() => createCryptoProvider('wasm' as never)).toThrow(
      /^name must be one of sodium, node, noble, got "wasm"$/,
    );
  });

  it('explains an unavailable sodium backend', () => {
    if (availableCryptoBackends().includes('sodium')) return;
    expect(() => createCryptoProvider('sodium')).toThrow(
      /^crypto backend 'sodium' is unavailable: sodium-native/,
    );
  });
});
