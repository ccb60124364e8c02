/**
 * Netmap scale: time and memory to decode and apply a full 10,000-peer MapResponse, then a
 * one-peer delta (a whole changed node, and a PeersChangedPatch as headscale sends for
 * online/endpoint changes). Go's figure for a delta is about 0.11 ms (tailscale
 * `control/controlclient` map benchmarks). Plain script:
 *
 *   npx pnpm@10.34.9 exec tsx --conditions=@tsnet/source packages/control/bench/control.bench.ts
 */
import * as os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  applyMapResponse,
  decodeJSON,
  EMPTY_NETMAP,
  MapResponseSchema,
  type NetworkMap,
  peers,
} from '../src/index.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

const N = Number(process.env.PEERS ?? 10_000);
const hex = (i: number, salt: number) =>
  ((i * 2654435761 + salt) >>> 0).toString(16).padStart(8, '0').repeat(8);

function node(i: number, online = true): Record<string, unknown> {
  const a = 64 + (i >> 16);
  return {
    ID: i,
    StableID: String(i),
    Name: `node-${i}.tailnet.test.`,
    User: 1 + (i % 50),
    Key: `nodekey:${hex(i, 1)}`,
    KeyExpiry: '0001-01-01T00:00:00Z',
    Machine: `mkey:${hex(i, 2)}`,
    DiscoKey: `discokey:${hex(i, 3)}`,
    Addresses: [`100.${a}.${(i >> 8) & 255}.${i & 255}/32`, `fd7a:115c:a1e0::${i.toString(16)}/128`],
    AllowedIPs: [`100.${a}.${(i >> 8) & 255}.${i & 255}/32`, `fd7a:115c:a1e0::${i.toString(16)}/128`],
    Endpoints: [`192.168.${(i >> 8) & 255}.${i & 255}:41641`, `203.0.113.${i & 255}:${10000 + (i % 50000)}`],
    HomeDERP: 1 + (i % 20),
    Hostinfo: {
      Hostname: `node-${i}`,
      OS: 'linux',
      Services: [{ Proto: 'peerapi4', Port: 40000 + (i % 1000) }],
      NetInfo: { PreferredDERP: 1 + (i % 20) },
    },
    Created: '2026-11-24T17:30:00Z',
    Cap: 142,
    Tags: i % 10 === 0 ? ['tag:server'] : null,
    Online: online,
    MachineAuthorized: true,
    CapMap: { 'https://tailscale.com/cap/ssh': null },
  };
}

const full = JSON.stringify({
  Node: node(0),
  DERPMap: {
    Regions: {
      '1': { RegionID: 1, RegionCode: 'a', Nodes: [{ Name: '1a', RegionID: 1, HostName: 'derp' }] },
    },
  },
  Domain: 'tailnet.test',
  Peers: Array.from({ length: N }, (_, i) => node(i + 1)),
  PacketFilters: { base: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }] },
  UserProfiles: Array.from({ length: 50 }, (_, i) => ({
    ID: i + 1,
    LoginName: `u${i}@`,
    DisplayName: `U${i}`,
  })),
});
const deltaNode = JSON.stringify({ PeersChanged: [node(N >> 1, false)] });
const deltaPatch = JSON.stringify({ PeersChangedPatch: [{ NodeID: N >> 1, Online: false, DERPRegion: 7 }] });

function timeIt(iters: number, fn: () => void): { median: number; p90: number } {
  const t: number[] = [];
  for (let i = 0; i < iters; i++) {
    const s = performance.now();
    fn();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return { median: t[t.length >> 1]!, p90: t[Math.floor(t.length * 0.9)]! };
}

const now = Date.now();
// warm up
for (let i = 0; i < 3; i++)
  applyMapResponse(EMPTY_NETMAP, decodeJSON(MapResponseSchema, full, 'MapResponse'), { now });

gc();
const heap0 = process.memoryUsage().heapUsed;
const held = [0, 1, 2].map(() =>
  applyMapResponse(EMPTY_NETMAP, decodeJSON(MapResponseSchema, full, 'MapResponse'), { now }),
);
gc();
const heapFull = (process.memoryUsage().heapUsed - heap0) / held.length;
let nm: NetworkMap = held[0]!;
const parseFull = timeIt(10, () => decodeJSON(MapResponseSchema, full, 'MapResponse'));
const jsonOnly = timeIt(10, () => JSON.parse(full));
const decodedFull = decodeJSON(MapResponseSchema, full, 'MapResponse');
const applyFull = timeIt(10, () => applyMapResponse(EMPTY_NETMAP, decodedFull, { now }));
const decodedDelta = decodeJSON(MapResponseSchema, deltaNode, 'MapResponse');
const decodedPatch = decodeJSON(MapResponseSchema, deltaPatch, 'MapResponse');
const deltaTotal = timeIt(2000, () => {
  applyMapResponse(nm, decodeJSON(MapResponseSchema, deltaNode, 'MapResponse'), { now });
});
const deltaApply = timeIt(2000, () => {
  applyMapResponse(nm, decodedDelta, { now });
});
const patchTotal = timeIt(2000, () => {
  applyMapResponse(nm, decodeJSON(MapResponseSchema, deltaPatch, 'MapResponse'), { now });
});
const patchApply = timeIt(2000, () => {
  applyMapResponse(nm, decodedPatch, { now });
});

// Memory kept per retained delta netmap (structural sharing: old and new share most of the table).
gc();
const heap1 = process.memoryUsage().heapUsed;
const kept: NetworkMap[] = [...held];
for (let i = 0; i < 100; i++) {
  nm = applyMapResponse(nm, decodedPatch, { now });
  kept.push(nm);
}
gc();
const perDelta = (process.memoryUsage().heapUsed - heap1) / 100;
if (kept.length !== 103) throw new Error('kept');
if (peers(nm).length !== N) throw new Error('bad netmap');

const ms = (x: number) => `${x.toFixed(3)} ms`;
console.log(`# @tsnet/control netmap benchmark`);
console.log(
  `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg()[0]!.toFixed(1)}, ${N} peers`,
);
console.log(`full map JSON: ${(full.length / 1e6).toFixed(2)} MB`);
console.log(`| step | median | p90 |`);
console.log(`|---|---|---|`);
console.log(`| JSON.parse only (full) | ${ms(jsonOnly.median)} | ${ms(jsonOnly.p90)} |`);
console.log(`| decode full (JSON.parse + schemas) | ${ms(parseFull.median)} | ${ms(parseFull.p90)} |`);
console.log(`| apply full (normalise, table) | ${ms(applyFull.median)} | ${ms(applyFull.p90)} |`);
console.log(`| delta, 1 changed node: decode + apply | ${ms(deltaTotal.median)} | ${ms(deltaTotal.p90)} |`);
console.log(`| delta, 1 changed node: apply only | ${ms(deltaApply.median)} | ${ms(deltaApply.p90)} |`);
console.log(
  `| delta, 1 PeersChangedPatch: decode + apply | ${ms(patchTotal.median)} | ${ms(patchTotal.p90)} |`,
);
console.log(`| delta, 1 PeersChangedPatch: apply only | ${ms(patchApply.median)} | ${ms(patchApply.p90)} |`);
console.log(
  `heap held by a ${N}-peer netmap: ${(heapFull / 1e6).toFixed(1)} MB (${(heapFull / N).toFixed(0)} B/peer)`,
);
console.log(`heap added per retained one-peer delta netmap: ${(perDelta / 1e3).toFixed(1)} kB`);
