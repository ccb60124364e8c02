// Shared helpers for the @tsnet/derp tests: bounded waits, a self-signed certificate.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Resolves when `check()` is true; polls every 5 ms; rejects after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The next emission of `event`, or a rejection after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(
  emitter: {
    once(event: string, fn: (...args: T) => void): unknown;
    off(event: string, fn: (...args: T) => void): unknown;
  },
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const fn = (...args: T) => {
      clearTimeout(timer);
      resolve(args);
    };
    const timer = setTimeout(() => {
      emitter.off(event, fn);
      reject(new Error(`no '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.once(event, fn);
  });
}

export interface TestCert {
  cert: string;
  key: string;
  /** `sha256-raw:<hex>` of the DER, as a DERP map CertName pin. */
  pin: string;
}

/** A self-signed certificate for 127.0.0.1 (and the DNS name `derp.test`), made with openssl. */
export function selfSignedCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'derp-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '2',
        '-subj',
        '/CN=derp.test',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:derp.test',
      ],
      { stdio: 'ignore', timeout: 15_000 },
    );
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const key = readFileSync(join(dir, 'key.pem'), 'utf8');
    const der = new X509Certificate(cert).raw;
    return { cert, key, pin: `sha256-raw:${createHash('sha256').update(der).digest('hex')}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A payload whose first 4 bytes are `i` and the rest derived from it, to check integrity. */
export function payload(i: number, size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let j = 0; j < size; j++) p[j] = (i * 31 + j * 7) & 0xff;
  if (size >= 4) {
    p[0] = i >>> 24;
    p[1] = i >>> 16;
    p[2] = i >>> 8;
    p[3] = i;
  }
  return p;
}

export function payloadIndex(p: Uint8Array): number {
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
