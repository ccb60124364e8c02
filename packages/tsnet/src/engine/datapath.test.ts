// The join of WireGuard's TUN side and netstack's link through the filter: allowed packets reach
// the stack, denied SYNs are answered with a TSMP reject, TSMP pings with pongs, outbound UDP flows
// open the way for their replies, disco-key adverts are handed up.
import { IPAddr } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { PacketFilter } from '../filter/filter.js';
import { parsePacket } from '../filter/packet.js';
import { buildTsmpPacket } from '../filter/tsmp.js';
import { Datapath } from './datapath.js';

const ME = IPAddr.parse('100.64.0.1').bytes;
const PEER = IPAddr.parse('100.64.0.2').bytes;

function tcpSyn(dport: number): Uint8Array {
  const b = new Uint8Array(40);
  b[0] = 0x45;
  b[3] = 40;
  b[8] = 64;
  b[9] = 6;
  b.set(PEER, 12);
  b.set(ME, 16);
  b[20] = 0x30;
  b[21] = 0x39;
  b[23] = dport;
  b[32] = 0x50;
  b[33] = 0x02;
  return b;
}

function setup() {
  const dp = new Datapath();
  const toStack: Uint8Array[] = [];
  const toTunnel: Uint8Array[] = [];
  dp.open((p) => toTunnel.push(p));
  dp.attach((p) => toStack.push(p));
  dp.filter = new PacketFilter({
    localAddresses: [IPAddr.parse('100.64.0.1')],
    rules: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 80, Last: 80 } }] }],
  });
  return { dp, toStack, toTunnel };
}

describe('Datapath', () => {
  it('delivers what the filter allows and rejects a denied SYN with TSMP', () => {
    const { dp, toStack, toTunnel } = setup();
    dp.write(tcpSyn(80));
    expect(toStack.length).toBe(1);
    dp.write(tcpSyn(22));
    expect(toStack.length).toBe(1);
    expect(toTunnel.length).toBe(1);
    const rej = toTunnel[0];
    expect(rej === undefined ? null : parsePacket(rej)?.proto).toBe(99);
    expect(rej?.[20]).toBe(0x21);
    expect(dp.counters.rejectsSent).toBe(1);
  });

  it('answers a TSMP ping and hands a disco advert up', () => {
    const { dp, toTunnel, toStack } = setup();
    dp.write(buildTsmpPacket(PEER, ME, new Uint8Array([0x70, 1, 2, 3, 4, 5, 6, 7, 8])));
    expect(toTunnel[0]?.[20]).toBe(0x6f);
    let got: Uint8Array | undefined;
    dp.onDiscoAdvert = (_src, key) => {
      got = key;
    };
    const adv = new Uint8Array(33).fill(5);
    adv[0] = 0x61;
    dp.write(buildTsmpPacket(PEER, ME, adv));
    expect(got?.length).toBe(32);
    expect(toStack.length).toBe(0);
  });

  it('drops everything before a filter exists', () => {
    const dp = new Datapath();
    const toStack: Uint8Array[] = [];
    dp.attach((p) => toStack.push(p));
    dp.write(tcpSyn(80));
    expect(toStack.length).toBe(0);
    expect(dp.counters.dropNoStack).toBe(1);
  });
  it('hands up a TSMP reject of one of our connections', () => {
    const { dp } = setup();
    let got: unknown;
    dp.onReject = (src, r) => {
      got = { src: [...src], ...r };
    };
    dp.write(buildTsmpPacket(PEER, ME, new Uint8Array([0x21, 6, 0x41, 0xc0, 0x00, 0, 22])));
    expect(got).toEqual({ src: [100, 64, 0, 2], proto: 6, reason: 'A', ourPort: 0xc000, theirPort: 22 });
    expect(dp.tsmp.rejectsReceived).toBe(1);
  });
});
