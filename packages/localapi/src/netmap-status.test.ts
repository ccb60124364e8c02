import { describe, expect, it } from 'vitest';
import {
  ALICE_IP,
  ALICE_IP6,
  ALICE_KEY,
  SAMPLE_PREFS,
  SELF_KEY,
  sampleNetmap,
  TAGGED_KEY,
} from '../test/fixture.js';
import { LocalClient } from './client.js';
import { magicDNSSuffixOfNodeName, statusFromNetmap } from './netmap-status.js';

describe('statusFromNetmap', () => {
  const nm = sampleNetmap();

  it('fills self, peers, users and the tailnet as ipnlocal does', () => {
    const st = statusFromNetmap(nm, {
      version: '1.102.3-tsnet',
      backendState: 'Running',
      peers: true,
      peerRuntime: (k) =>
        k === ALICE_KEY
          ? { curAddr: '127.0.0.1:41641', relay: 'test', rxBytes: 10, active: true }
          : undefined,
    });
    expect(st.BackendState).toBe('Running');
    expect(st.TailscaleIPs?.map(String)).toEqual(['100.64.0.1', 'fd7a:115c:a1e0::1']);
    expect(st.MagicDNSSuffix).toBe('tailnet.test');
    expect(st.CurrentTailnet).toEqual({
      Name: 'tailnet.test',
      MagicDNSSuffix: 'tailnet.test',
      MagicDNSEnabled: false,
    });
    expect(st.Self?.PublicKey.toString()).toBe(SELF_KEY);
    expect(st.Self?.Online).toBe(true);
    const alice = st.Peer?.[ALICE_KEY];
    expect(alice?.TailscaleIPs?.map(String)).toEqual([ALICE_IP, ALICE_IP6]);
    expect(alice).toMatchObject({
      ID: 'n2CNTRL',
      NodeID: 2,
      HostName: 'alice-laptop',
      DNSName: 'alice-laptop.tailnet.test.',
    });
    expect(alice).toMatchObject({
      OS: 'linux',
      Online: true,
      CurAddr: '127.0.0.1:41641',
      Relay: 'test',
      RxBytes: 10,
      Active: true,
    });
    expect(alice?.KeyExpiry).toBeUndefined();
    expect(st.Peer?.[TAGGED_KEY]?.Tags).toEqual(['tag:ci']);
    expect(st.User?.['2']?.LoginName).toBe('alice@example.com');
    expect(
      statusFromNetmap(nm, { version: 'v', backendState: 'Running', peers: false }).Peer,
    ).toBeUndefined();
  });

  it('round-trips through the handler and LocalClient unchanged', async () => {
    const lc = new LocalClient({
      backend: {
        whoIs: () => null,
        status: ({ peers }) => statusFromNetmap(nm, { version: 'v', backendState: 'Running', peers }),
        prefs: () => SAMPLE_PREFS,
      },
    });
    const want = statusFromNetmap(nm, { version: 'v', backendState: 'Running', peers: true });
    const got = await lc.status();
    expect(JSON.parse(JSON.stringify(got))).toEqual(JSON.parse(JSON.stringify(want)));
  });

  it.each([
    ['host.tailnet.test.', 'tailnet.test'],
    ['host.user.ts.net', 'user.ts.net'],
    ['single', 'single'],
    ['', ''],
  ])('magicDNSSuffixOfNodeName(%s) = %s', (name, want) => {
    expect(magicDNSSuffixOfNodeName(name)).toBe(want);
  });
});
