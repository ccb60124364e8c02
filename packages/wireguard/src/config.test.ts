import { describe, expect, it } from 'vitest';
import { parseWgConfig, WgConfigError } from './config.js';

const K1 = Buffer.alloc(32, 1).toString('base64');
const K2 = Buffer.alloc(32, 2).toString('base64');
const K3 = Buffer.alloc(32, 3).toString('base64');

describe('parseWgConfig', () => {
  it('parses the standard format', () => {
    const cfg = parseWgConfig(`# a comment
[Interface]
PrivateKey = ${K1}
ListenPort = 51820
Address = 10.0.0.1/24, fd00::1/64
DNS = 1.1.1.1
MTU = 1380
PostUp = echo up

[Peer]  # first
PublicKey = ${K2}
PresharedKey = ${K3}
AllowedIPs = 10.0.0.2/32, 10.1.0.0/16,fd00::2
Endpoint = 192.0.2.1:51820
PersistentKeepalive = 25

[peer]
publickey = ${K3}
allowedips = 0.0.0.0/0
endpoint = [2001:db8::1]:51820
`);
    expect(cfg.interface.privateKey).toEqual(new Uint8Array(32).fill(1));
    expect(cfg.interface.listenPort).toBe(51820);
    expect(cfg.interface.addresses).toEqual(['10.0.0.1/24', 'fd00::1/64']);
    expect(cfg.interface.dns).toEqual(['1.1.1.1']);
    expect(cfg.interface.mtu).toBe(1380);
    expect(cfg.interface.extra).toEqual({ postup: 'echo up' });
    expect(cfg.peers).toHaveLength(2);
    expect(cfg.peers[0]!.presharedKey).toEqual(new Uint8Array(32).fill(3));
    expect(cfg.peers[0]!.allowedIps).toEqual(['10.0.0.2/32', '10.1.0.0/16', 'fd00::2/128']);
    expect(cfg.peers[0]!.endpoint).toBe('192.0.2.1:51820');
    expect(cfg.peers[0]!.persistentKeepalive).toBe(25);
    expect(cfg.peers[1]!.endpoint).toBe('[2001:db8::1]:51820');
    expect(cfg.peers[1]!.presharedKey).toBeUndefined();
  });

  const bad: [string, number, RegExp][] = [
    [`[Interface]\nPrivateKey = nope`, 2, /PrivateKey/],
    [`[Interface]\nPrivateKey = ${K1}\nListenPort = 70000`, 3, /ListenPort/],
    [`[Interface]\nPrivateKey = ${K1}\nBogus = 1`, 3, /unknown key Bogus/],
    [`[Interface]\nPrivateKey = ${K1}\n[Peer]\nAllowedIPs = 10.0.0.0/8`, 3, /no PublicKey/],
    [`[Interface]\nPrivateKey = ${K1}\n[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.0/33`, 5, /AllowedIPs/],
    [`[Interface]\nPrivateKey = ${K1}\n[Peer]\nPublicKey = ${K2}\nEndpoint = host`, 5, /Endpoint/],
    [`[Interface]\nPrivateKey = ${K1}\n[Wat]`, 3, /unknown section/],
    [`PrivateKey = ${K1}`, 1, /outside of a section/],
    [`[Interface]\nListenPort 51820`, 2, /Key = Value/],
    [`[Interface]\nListenPort = 1`, 0, /no PrivateKey/],
    [``, 0, /no \[Interface\]/],
  ];
  it.each(bad)('rejects %j at line %i', (text, line, re) => {
    try {
      parseWgConfig(text);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(WgConfigError);
      expect((e as WgConfigError).line).toBe(line);
      expect((e as Error).message).toMatch(re);
    }
  });
});
