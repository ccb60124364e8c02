/**
 * A self-signed X.509 certificate (RFC 5280) for 127.0.0.1, made with `node:crypto` alone, so the
 * embedded DERP server can speak HTTPS and real clients can pin it by hash
 * (`DERPNode.CertName = "sha256-raw:<hex of the DER>"`, tailscale `derp/derphttp`; protocol-map.md
 * §5.1) without `TS_DEBUG_USE_DERP_HTTP`.
 *
 * ECDSA P-256 with SHA-256; subject and issuer `CN=127.0.0.1`; SubjectAltName IP 127.0.0.1 and
 * DNS `localhost`; valid from one hour ago for 30 days.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return Buffer.concat([Uint8Array.from([tag, ...len(body.length)]), body]);
}

const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);

function oid(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const b: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, Uint8Array.from(out));
}

function utcTime(d: Date): Uint8Array {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

function name(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

export interface SelfSignedCert {
  /** PEM certificate. */
  cert: string;
  /** PEM private key (PKCS#8). */
  key: string;
  /** `sha256-raw:<hex>` of the DER certificate, for `DERPNode.CertName`. */
  certName: string;
}

/** Makes a fresh self-signed certificate for 127.0.0.1. */
export function selfSignedCert(now = new Date()): SelfSignedCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const sigAlg = seq(oid('1.2.840.10045.4.3.2')); // ecdsa-with-SHA256
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive and minimal (DER: no leading zero byte)
  const san = seq(tlv(0x87, Uint8Array.of(127, 0, 0, 1)), tlv(0x82, Buffer.from('localhost', 'ascii')));
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.17'), tlv(0x04, san)),
      seq(oid('2.5.29.19'), tlv(0x01, Uint8Array.of(0xff)), tlv(0x04, seq())), // basicConstraints, critical, CA false
      seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))), // extKeyUsage serverAuth
    ),
  );
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Uint8Array.of(2))), // v3
    tlv(0x02, serial),
    sigAlg,
    name('127.0.0.1'),
    seq(utcTime(new Date(now.getTime() - 3600_000)), utcTime(new Date(now.getTime() + 30 * 86400_000))),
    name('127.0.0.1'),
    spki,
    extensions,
  );
  const sig = sign('sha256', tbs, privateKey);
  const der = seq(tbs, sigAlg, tlv(0x03, Uint8Array.of(0), sig));
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certName: `sha256-raw:${createHash('sha256').update(der).digest('hex')}`,
  };
}
