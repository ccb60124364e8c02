// The pure parts of the fixtures, which need no real peer: `tailscale ping` output and the DERP map
// YAML headscale reads.
import { describe, expect, it } from 'vitest';
import { derpMapYaml, parsePongs } from '../src/index.js';

describe('parsePongs', () => {
  it('reads DERP and direct pongs and ignores the rest', () => {
    const out = [
      'pong from gopeer (100.64.0.1) via DERP(loop) in 2ms',
      'pong from gopeer (100.64.0.1) via DERP(loop) in 1ms',
      'pong from gopeer (100.64.0.1) via 127.0.0.1:47240 in 1ms',
      'pong from v6 (fd7a:115c:a1e0::1) via [::1]:41641 in 3ms',
      'ping "100.64.0.1" timed out',
      '',
    ].join('\n');
    expect(parsePongs(out).map((p) => [p.via, p.derp])).toEqual([
      ['DERP(loop)', true],
      ['DERP(loop)', true],
      ['127.0.0.1:47240', false],
      ['[::1]:41641', false],
    ]);
  });
});

describe('derpMapYaml', () => {
  it('writes lower-cased Go field names with integer region keys', () => {
    const yaml = derpMapYaml({
      Regions: {
        '900': {
          RegionID: 900,
          RegionCode: 'loop',
          RegionName: 'Loopback',
          Nodes: [
            {
              Name: '900a',
              RegionID: 900,
              HostName: '127.0.0.1',
              IPv4: '127.0.0.1',
              IPv6: 'none',
              STUNPort: 3478,
              DERPPort: 8443,
              CertName: 'sha256-raw:00ff',
            },
          ],
        },
      },
    });
    expect(yaml).toBe(
      [
        'regions:',
        '  900:',
        '    regionid: 900',
        '    regioncode: "loop"',
        '    regionname: "Loopback"',
        '    nodes:',
        '      - name: "900a"',
        '        regionid: 900',
        '        hostname: "127.0.0.1"',
        '        ipv4: "127.0.0.1"',
        '        ipv6: "none"',
        '        stunport: 3478',
        '        stunonly: false',
        '        derpport: 8443',
        '        certname: "sha256-raw:00ff"',
        '',
      ].join('\n'),
    );
  });
});
