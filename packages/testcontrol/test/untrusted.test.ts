// Untrusted requests over a real Noise connection: malformed, wrongly typed, oversized and
// random bodies get 4xx answers, never a crash, and the server keeps serving.
import { NoiseHttpClient } from '@tsnet/control';
import { MachinePrivate, NodePrivate } from '@tsnet/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TestTailnet } from '../src/index.js';
import { join } from './helpers.js';

let tailnet: TestTailnet;
let http: NoiseHttpClient;
beforeEach(async () => {
  tailnet = await TestTailnet.start();
  http = await NoiseHttpClient.connect({
    serverURL: tailnet.controlURL,
    machineKey: MachinePrivate.generate(),
    controlKey: tailnet.controlKey.public(),
    version: 115,
  });
});
afterEach(async () => {
  await http.close();
  await tailnet.close();
});

const nodeKey = () => NodePrivate.generate().public().toString();

describe('untrusted requests', () => {
  it('answers malformed register and map requests with 400', async () => {
    const bodies = [
      '',
      'not json',
      '[]',
      'null',
      '{"Version": "x"}',
      '{"Version": 115}',
      `{"Version": 115, "NodeKey": "nodekey:zz"}`,
      `{"Version": 115, "NodeKey": "${nodeKey()}", "Hostinfo": 7}`,
      `{"Version": 115, "NodeKey": "${nodeKey()}", "Expiry": "yesterday"}`,
      '{"Version": 115, "NodeKey": 5}',
    ];
    for (const path of ['/machine/register', '/machine/map']) {
      for (const b of bodies) {
        const r = await http.request('POST', path, b, { timeoutMs: 5000 });
        expect(r.status, `${path} ${b}`).toBeGreaterThanOrEqual(400);
        expect(r.status, `${path} ${b}`).toBeLessThan(500);
      }
    }
    const ep = JSON.stringify({ Version: 115, NodeKey: nodeKey(), Endpoints: ['nope'] });
    expect((await http.request('POST', '/machine/map', ep)).status).toBe(400);
    expect(tailnet.stats.http.badRequests).toBeGreaterThanOrEqual(bodies.length * 2);
  });

  it('refuses bodies over 1 MiB with 413', async () => {
    const r = await http.request('POST', '/machine/register', new Uint8Array((1 << 20) + 10).fill(0x20), {
      timeoutMs: 10_000,
    });
    expect(r.status).toBe(413);
    expect(tailnet.stats.http.tooLarge).toBe(1);
  });

  it('answers unknown paths and methods, and maps of unknown nodes', async () => {
    expect((await http.request('GET', '/machine/register')).status).toBe(405);
    expect((await http.request('POST', '/machine/set-dns', '{}')).status).toBe(501);
    expect((await http.request('GET', '/nope')).status).toBe(404);
    const map = await http.request(
      'POST',
      '/machine/map',
      JSON.stringify({ Version: 115, NodeKey: nodeKey(), Stream: true }),
    );
    expect(map.status).toBe(404);
  });

  it('survives random JSON-ish bodies and keeps serving', async () => {
    const pick = <T>(a: T[]): T => a[Math.floor(Math.random() * a.length)]!;
    const values = [
      null,
      true,
      0,
      -1,
      1e300,
      '',
      'x'.repeat(300),
      [],
      {},
      [1, 'a'],
      { a: { b: [] } },
      nodeKey(),
    ];
    const fields = [
      'Version',
      'NodeKey',
      'OldNodeKey',
      'Auth',
      'Expiry',
      'Followup',
      'Hostinfo',
      'DiscoKey',
      'Stream',
      'OmitPeers',
      'Endpoints',
      'EndpointTypes',
      'Compress',
    ];
    for (let i = 0; i < 150; i++) {
      const body: Record<string, unknown> = { Version: 115, NodeKey: nodeKey() };
      for (let j = 0; j < 3; j++) body[pick(fields)] = pick(values);
      const r = await http.request(
        'POST',
        pick(['/machine/register', '/machine/map']),
        JSON.stringify(body),
        { timeoutMs: 5000 },
      );
      expect(r.status).toBeLessThan(500);
    }
    const c = await join(tailnet, 'still-up', tailnet.createAuthKey());
    await c.close();
  });
});
