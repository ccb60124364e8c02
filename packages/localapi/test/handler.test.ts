// The LocalAPI handler through the in-process transport (real HTTP framing, no socket): routes,
// tailscaled's status codes and error texts, JSON shapes, and errors from the backend.
import { describe, expect, it, vi } from 'vitest';
import { LocalClient } from '../src/client.js';
import { PeerNotFoundError } from '../src/errors.js';
import { createLocalApiHandler } from '../src/handler.js';
import { inProcessTransport } from '../src/transport.js';
import { IPN_STATES, NotifyWatchOpt } from '../src/types.js';
import { ALICE_IP, ALICE_IP6, ALICE_KEY, SELF_IP, SELF_KEY, sampleBackend, TAGGED_IP } from './fixture.js';

function setup(opts: Partial<Parameters<typeof createLocalApiHandler>[0]> = {}) {
  const backend = sampleBackend();
  const handler = createLocalApiHandler({ backend, ...opts });
  const raw = inProcessTransport(handler);
  const get = async (path: string, method = 'GET', body?: string) => {
    const r = await raw({ method, path, body, timeoutMs: 5000 });
    return { ...r, text: r.body.toString('utf8') };
  };
  return { backend, handler, get, lc: new LocalClient({ handler }) };
}

describe('whois', () => {
  it('answers a peer by IP with Node, UserProfile and the CapMap granted to it', async () => {
    const { lc } = setup();
    const who = await lc.whoIs(ALICE_IP);
    expect(who.Node.Key.toString()).toBe(ALICE_KEY);
    expect(who.Node.ID).toBe(2);
    expect(who.Node.StableID).toBe('n2CNTRL');
    expect(who.Node.Name).toBe('alice-laptop.tailnet.test.');
    expect(who.UserProfile.LoginName).toBe('alice@example.com');
    expect(who.CapMap).toEqual({ 'example.com/cap/web': [{ role: 'admin' }] });
  });

  it('accepts ip:port, [v6]:port, an IPv4-mapped address and a node key', async () => {
    const { lc, backend } = setup();
    expect((await lc.whoIs(`${ALICE_IP}:41641`)).Node.ID).toBe(2);
    expect((await lc.whoIs(`[${ALICE_IP6}]:80`)).Node.ID).toBe(2);
    expect((await lc.whoIs(`::ffff:${ALICE_IP}`)).Node.ID).toBe(2);
    expect((await lc.whoIsNodeKey(ALICE_KEY)).Node.ID).toBe(2);
    expect((await lc.whoIs(ALICE_IP, { proto: 'tcp' })).Node.ID).toBe(2);
    expect(backend.calls).toContain(`whoIs ${ALICE_IP}:0 tcp`);
    expect(backend.calls).toContain(`whoIs ${ALICE_IP}:0 `);
  });

  it('gives a tagged node the tagged-devices user and no capabilities (CapMap null)', async () => {
    const { lc, get } = setup();
    const who = await lc.whoIs(TAGGED_IP);
    expect(who.Node.Tags).toEqual(['tag:ci']);
    expect(who.UserProfile.LoginName).toBe('tagged-devices');
    expect(who.CapMap).toBeUndefined();
    const r = await get(`/localapi/v0/whois?addr=${TAGGED_IP}`);
    expect(JSON.parse(r.text).CapMap).toBeNull();
  });

  it('answers for our own address', async () => {
    const { lc } = setup();
    const who = await lc.whoIs(SELF_IP);
    expect(who.Node.Key.toString()).toBe(SELF_KEY);
    expect(who.UserProfile.LoginName).toBe('server@');
  });

  it('404 "no match for IP:port" for an unknown address → PeerNotFoundError', async () => {
    const { lc, get } = setup();
    const r = await get('/localapi/v0/whois?addr=100.64.0.99');
    expect(r.status).toBe(404);
    expect(r.text).toBe('no match for IP:port\n');
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    const e = await lc.whoIs('100.64.0.99').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PeerNotFoundError);
    expect((e as PeerNotFoundError).code).toBe('ERR_PEER_NOT_FOUND');
    await expect(lc.whoIsNodeKey(`nodekey:${'99'.repeat(32)}`)).rejects.toBeInstanceOf(PeerNotFoundError);
  });

  it.each([
    ['', "missing 'addr' parameter"],
    ['?addr=', "missing 'addr' parameter"],
    ['?addr=nope', "invalid 'addr' parameter"],
    ['?addr=100.64.0.2:99999', "invalid 'addr' parameter"],
    ['?addr=[100.64.0.2]:80', "invalid 'addr' parameter"],
    ['?addr=nodekey:zz', "invalid nodekey in 'addr' parameter"],
    [`?addr=${ALICE_IP}&dst_ip=bad`, 'invalid dst_ip'],
    [`?addr=${ALICE_IP}&svc_name=web`, 'invalid svc_name'],
  ])('400 for %s', async (q, msg) => {
    const { get } = setup();
    const r = await get(`/localapi/v0/whois${q}`);
    expect(r.status).toBe(400);
    expect(r.text).toBe(`${msg}\n`);
  });

  it('dst_ip scopes the CapMap to that destination', async () => {
    const { lc } = setup();
    expect((await lc.whoIs(ALICE_IP, { dstIP: '100.64.0.50' })).CapMap).toBeUndefined();
    expect((await lc.whoIs(ALICE_IP, { dstIP: SELF_IP })).CapMap).toEqual({
      'example.com/cap/web': [{ role: 'admin' }],
    });
  });

  it('serialises Go forms: keys and prefixes as text, times as RFC 3339, tab indent', async () => {
    const { get } = setup();
    const r = await get(`/localapi/v0/whois?addr=${ALICE_IP}`);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['tailscale-cap']).toBe('142');
    expect(r.text).toContain('\n\t"Node": {');
    const j = JSON.parse(r.text);
    expect(j.Node.Key).toBe(ALICE_KEY);
    expect(j.Node.Addresses).toEqual([`${ALICE_IP}/32`, `${ALICE_IP6}/128`]);
    expect(j.Node.KeyExpiry).toBe('0001-01-01T00:00:00Z');
    expect(j.Node.Created).toBe('2026-11-24T10:00:00Z');
    expect(Object.keys(j)).toEqual(['Node', 'UserProfile', 'CapMap']);
  });
});

describe('status, prefs and the rest', () => {
  it('status with and without peers', async () => {
    const { lc } = setup();
    const st = await lc.status();
    expect(st.BackendState).toBe('Running');
    expect(st.Self?.PublicKey.toString()).toBe(SELF_KEY);
    expect(Object.keys(st.Peer ?? {}).sort()).toEqual([ALICE_KEY, `nodekey:${'33'.repeat(32)}`]);
    expect(st.Peer?.[ALICE_KEY]?.TailscaleIPs?.map(String)).toEqual([ALICE_IP, ALICE_IP6]);
    expect(st.User?.['2']?.LoginName).toBe('alice@example.com');
    expect(st.CurrentTailnet?.MagicDNSSuffix).toBe('tailnet.test');
    const lite = await lc.statusWithoutPeers();
    expect(lite.Peer).toBeUndefined();
    expect(lite.Self?.HostName).toBe('self');
  });

  it('status ?peers= follows Go strconv.ParseBool, defaulting to true', async () => {
    const { get } = setup();
    for (const [v, has] of [
      ['0', false],
      ['F', false],
      ['False', false],
      ['true', true],
      ['nonsense', true],
      ['', true],
    ] as const) {
      const j = JSON.parse((await get(`/localapi/v0/status?peers=${v}`)).text);
      expect(j.Peer !== undefined, v).toBe(has);
    }
  });

  it('prefs: GET, HEAD; PATCH without editPrefs is 501; POST is 405', async () => {
    const { lc, get } = setup();
    const p = await lc.prefs();
    expect(p.ControlURL).toBe('http://127.0.0.1:8080');
    expect(p.WantRunning).toBe(true);
    expect((await get('/localapi/v0/prefs', 'HEAD')).status).toBe(200);
    expect((await get('/localapi/v0/prefs', 'PATCH', '{}')).status).toBe(501);
    const post = await get('/localapi/v0/prefs', 'POST');
    expect(post.status).toBe(405);
    expect(post.text).toBe('unsupported method\n');
  });

  it('prefs PATCH: applied by the backend; its error is 400 {"Error"}; bad JSON 400', async () => {
    const backend = sampleBackend();
    let hostname = 'self';
    backend.editPrefs = (m) => {
      if (m.Hostname === 'bad') throw new Error('bad hostname');
      hostname = String(m.Hostname);
      return { ...backend.prefs(), Hostname: hostname } as never;
    };
    const lc = new LocalClient({ backend });
    expect((await lc.editPrefs({ Hostname: 'renamed', HostnameSet: true })).Hostname).toBe('renamed');
    const e = await lc.editPrefs({ Hostname: 'bad' }).catch((x: unknown) => x);
    expect((e as Error).message).toContain('bad hostname');
    const raw = inProcessTransport(createLocalApiHandler({ backend }));
    const r = await raw({ method: 'PATCH', path: '/localapi/v0/prefs', body: '{', timeoutMs: 5000 });
    expect(r.status).toBe(400);
  });

  it('cert-domains sorted; derpmap null; dns-config 503 without a netmap', async () => {
    const { lc, get } = setup();
    expect(await lc.certDomains()).toEqual(['a.example', 'b.example']);
    expect(await lc.derpMap()).toBeNull();
    const r = await get('/localapi/v0/dns-config');
    expect(r.status).toBe(503);
    expect(r.text).toBe('no netmap\n');
    await expect(lc.dnsConfig()).rejects.toMatchObject({ code: 'ERR_LOCALAPI_HTTP', status: 503 });
  });

  it('peer-by-id and user-profile: found, 404, 400', async () => {
    const { lc, get } = setup();
    expect((await lc.peerByID(2)).Key.toString()).toBe(ALICE_KEY);
    expect((await lc.userProfile(2)).DisplayName).toBe('Alice');
    expect((await get('/localapi/v0/peer-by-id?id=77')).text).toBe('no peer with that NodeID\n');
    expect((await get('/localapi/v0/user-profile?id=77')).status).toBe(404);
    for (const id of ['', '0', '-1', 'x', '99999999999999999999']) {
      const r = await get(`/localapi/v0/peer-by-id?id=${id}`);
      expect(r.status, id).toBe(400);
      expect(r.text).toBe("invalid 'id' parameter\n");
    }
  });

  it('root, unknown routes and routes the backend lacks', async () => {
    const { get } = setup();
    expect((await get('/')).text).toBe('tailscaled\n');
    for (const p of [
      '/localapi/v0/nope',
      '/localapi/v1/status',
      '/status',
      '/localapi/v0/logout',
      '//x/localapi/v0/status',
    ]) {
      const r = await get(p);
      expect(r.status, p).toBe(404);
      expect(r.text).toBe('404 page not found\n');
    }
    expect((await get('/localapi/v0/st%61tus')).status).toBe(200);
    expect((await get('/localapi/v0/%zz')).status).toBe(400);
  });

  it('logout: POST only, calls the backend, 204', async () => {
    const backend = sampleBackend();
    let n = 0;
    backend.logout = () => {
      n++;
    };
    const lc = new LocalClient({ backend });
    await lc.logout();
    expect(n).toBe(1);
    const raw = inProcessTransport(createLocalApiHandler({ backend }));
    expect((await raw({ method: 'GET', path: '/localapi/v0/logout', timeoutMs: 5000 })).status).toBe(400);
    const ro = new LocalClient({ handler: createLocalApiHandler({ backend, permitWrite: false }) });
    await expect(ro.logout()).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('permitRead=false: 403 "<what> access denied" → AccessDeniedError', async () => {
    const { lc } = setup({ permitRead: false });
    await expect(lc.status()).rejects.toMatchObject({
      code: 'ERR_ACCESS_DENIED',
      status: 403,
      message: 'Access denied: status access denied',
    });
    await expect(lc.whoIs(ALICE_IP)).rejects.toMatchObject({ code: 'ERR_ACCESS_DENIED' });
  });

  it('a backend that throws or rejects gives 500 with its message, and the handler goes on', async () => {
    const backend = sampleBackend();
    backend.status = () => {
      throw new Error('engine exploded');
    };
    backend.prefs = () => Promise.reject(new Error('store unreadable'));
    const handler = createLocalApiHandler({ backend });
    const lc = new LocalClient({ handler });
    await expect(lc.status()).rejects.toMatchObject({
      status: 500,
      message: expect.stringContaining('engine exploded'),
    });
    await expect(lc.prefs()).rejects.toMatchObject({ status: 500 });
    expect((await lc.whoIs(ALICE_IP)).Node.ID).toBe(2);
    expect(handler.stats.backendErrors).toBe(2);
  });
});

describe('svc_name without a known service address', () => {
  it('grants nothing (Go: unknown service → no capabilities)', async () => {
    const { lc } = setup();
    const who = await lc.whoIs(ALICE_IP, { svcName: 'svc:web' });
    expect(who.Node.ID).toBe(2);
    expect(who.CapMap).toBeUndefined();
  });
});

describe('watch-ipn-bus', () => {
  function busBackend() {
    const backend = sampleBackend();
    const seen: { mask: number; aborted: boolean } = { mask: -1, aborted: false };
    let push: ((n: Record<string, unknown>) => void) | null = null;
    backend.watchIPNBus = async function* (mask, signal) {
      seen.mask = mask;
      signal.addEventListener('abort', () => {
        seen.aborted = true;
      });
      if (mask & NotifyWatchOpt.InitialState) yield { Version: 'v', State: 6 };
      while (!signal.aborted) {
        const n = await new Promise<Record<string, unknown> | null>((resolve) => {
          push = resolve;
          signal.addEventListener('abort', () => resolve(null), { once: true });
        });
        if (n === null) return;
        yield n;
      }
    };
    return { backend, seen, push: (n: Record<string, unknown>) => push?.(n) };
  }

  it('streams the initial state, then changes, until the client closes', async () => {
    const { backend, seen, push } = busBackend();
    const lc = new LocalClient({ backend });
    const w = await lc.watchIPNBus(NotifyWatchOpt.InitialState | NotifyWatchOpt.InitialPrefs);
    const first = await w.next();
    expect(first.value).toMatchObject({ Version: 'v', State: 6 });
    expect(IPN_STATES[first.value?.State ?? 0]).toBe('Running');
    expect(seen.mask).toBe(6);
    setTimeout(() => push({ BrowseToURL: 'https://login.example/x', ErrMessage: null }), 10);
    expect((await w.next()).value).toMatchObject({ BrowseToURL: 'https://login.example/x' });
    w.close();
    expect((await w.next()).done).toBe(true);
    await vi.waitFor(() => expect(seen.aborted).toBe(true));
  });

  it('bad masks are 400; a transport without streaming says so', async () => {
    const { backend } = busBackend();
    const send = inProcessTransport(createLocalApiHandler({ backend }));
    for (const m of ['x', '-1', String(1 << 16)]) {
      const r = await send({ method: 'GET', path: `/localapi/v0/watch-ipn-bus?mask=${m}`, timeoutMs: 5000 });
      expect(r.status, m).toBe(400);
    }
    const lc = new LocalClient({
      transport: async () => ({ status: 200, statusText: '', headers: {}, body: Buffer.alloc(0) }),
    });
    await expect(lc.watchIPNBus(2)).rejects.toThrow(/stream/);
    await expect(new LocalClient({ backend: sampleBackend() }).watchIPNBus(2)).rejects.toMatchObject({
      status: 404,
    });
  });
});

describe('ping', () => {
  function pingSetup() {
    const backend = sampleBackend();
    const calls: string[] = [];
    backend.ping = (ip, type, size) => {
      calls.push(`${ip} ${type} ${size}`);
      if (ip.toString() === '100.64.0.66') throw new Error('no matching peer');
      return {
        IP: ip.toString(),
        NodeIP: ip.toString(),
        NodeName: 'alice-laptop',
        Err: '',
        LatencySeconds: 0.002,
        Endpoint: '127.0.0.1:41641',
        DERPRegionID: 0,
        DERPRegionCode: '',
      } as never;
    };
    const handler = createLocalApiHandler({ backend });
    return { calls, lc: new LocalClient({ handler }), send: inProcessTransport(handler) };
  }

  it('POSTs ip, size, type and returns the PingResult', async () => {
    const { lc, calls } = pingSetup();
    const r = await lc.ping(ALICE_IP, 'disco', { size: 100 });
    expect(r).toMatchObject({ NodeName: 'alice-laptop', Err: '', Endpoint: '127.0.0.1:41641' });
    expect(calls).toEqual([`${ALICE_IP} disco 100`]);
  });

  it.each([
    ['GET', 'ip=1.2.3.4&type=disco', 'want POST'],
    ['POST', 'type=disco', "missing 'ip' parameter"],
    ['POST', 'ip=nope&type=disco', 'invalid IP'],
    ['POST', 'ip=1.2.3.4', "missing 'type' parameter"],
    ['POST', 'ip=1.2.3.4&type=disco&size=x', "invalid 'size' parameter"],
    ['POST', 'ip=1.2.3.4&type=TSMP&size=10', "'size' parameter is only supported with disco pings"],
    ['POST', 'ip=1.2.3.4&type=disco&size=70000', "maximum value for 'size' is 65507"],
  ])('%s ?%s → 400 %s', async (method, q, msg) => {
    const { send } = pingSetup();
    const r = await send({ method, path: `/localapi/v0/ping?${q}`, timeoutMs: 5000 });
    expect(r.status).toBe(400);
    expect(r.body.toString()).toBe(`${msg}\n`);
  });

  it('a backend error is 500 {"error": …} (Go WriteErrorJSON), read by the client', async () => {
    const { lc } = pingSetup();
    await expect(lc.ping('100.64.0.66')).rejects.toMatchObject({
      status: 500,
      message: expect.stringContaining('no matching peer'),
    });
  });
});

describe('watch-ipn-bus with an AbortSignal', () => {
  it('ends the iteration when the signal aborts', async () => {
    const backend = sampleBackend();
    backend.watchIPNBus = async function* (_mask, signal) {
      yield { State: 6 };
      await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    };
    const ac = new AbortController();
    const w = await new LocalClient({ backend }).watchIPNBus(2, { signal: ac.signal });
    expect((await w.next()).value?.State).toBe(6);
    setTimeout(() => ac.abort(), 10);
    expect((await w.next()).done).toBe(true);
  });
});
