import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { selfSignedCert } from './selfsigned.js';

describe('selfSignedCert', () => {
  it('is a valid self-signed certificate for 127.0.0.1, pinned by the SHA-256 of its DER', () => {
    const c = selfSignedCert();
    const x = new X509Certificate(c.cert);
    expect(x.subject).toBe('CN=127.0.0.1');
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x.verify(x.publicKey)).toBe(true);
    expect(c.certName).toBe(`sha256-raw:${createHash('sha256').update(x.raw).digest('hex')}`);
  });

  it('always encodes as valid DER (regression: a serial starting with 0x00 was non-minimal)', () => {
    for (let i = 0; i < 300; i++) expect(() => new X509Certificate(selfSignedCert().cert)).not.toThrow();
  });

  it('serves TLS that a client trusting it accepts', async () => {
    const c = selfSignedCert();
    const srv = createServer({ cert: c.cert, key: c.key }, (_req, res) => res.end('ok'));
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    const port = (srv.address() as AddressInfo).port;
    const sock = connect({ host: '127.0.0.1', port, ca: c.cert, servername: undefined });
    await once(sock, 'secureConnect');
    expect(sock.authorized).toBe(true);
    sock.destroy();
    srv.close();
  });
});
