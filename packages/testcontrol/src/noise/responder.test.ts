import { createInitiation } from '@tsnet/control';
import { MachinePrivate } from '@tsnet/core';
import { describe, expect, it } from 'vitest';
import { encodeErrorMessage, respondToInitiation } from './responder.js';

describe('respondToInitiation', () => {
  it('completes a handshake with @tsnet/control initiator: same keys both ways', () => {
    const control = MachinePrivate.generate();
    const machine = MachinePrivate.generate();
    const hs = createInitiation({ machineKey: machine, controlKey: control.public(), version: 115 });
    const r = respondToInitiation(control, hs.initiation);
    if ('error' in r) throw new Error(r.error);
    expect(r.version).toBe(115);
    expect(r.machinePublic.equals(machine.public())).toBe(true);
    const keys = hs.finish(r.response);
    expect(keys.tx).toEqual(r.keys.rx);
    expect(keys.rx).toEqual(r.keys.tx);
    expect(keys.handshakeHash).toEqual(r.keys.handshakeHash);
  });

  it('refuses wrong sizes, types, lengths, and initiations for another server key', () => {
    const control = MachinePrivate.generate();
    const hs = createInitiation({
      machineKey: MachinePrivate.generate(),
      controlKey: control.public(),
      version: 115,
    });
    expect(respondToInitiation(control, hs.initiation.subarray(0, 100))).toEqual({
      error: 'wrong handshake initiation size',
    });
    const t = Uint8Array.from(hs.initiation);
    t[2] = 2;
    expect(respondToInitiation(control, t)).toEqual({ error: 'unexpected handshake message type' });
    const l = Uint8Array.from(hs.initiation);
    l[4] = 1;
    expect(respondToInitiation(control, l)).toEqual({ error: 'wrong handshake initiation length' });
    expect(respondToInitiation(MachinePrivate.generate(), hs.initiation)).toEqual({
      error: 'decrypting machine key',
    });
    const tag = Uint8Array.from(hs.initiation);
    tag[100] = tag[100]! ^ 1;
    expect(respondToInitiation(control, tag)).toEqual({ error: 'decrypting initiation tag' });
    const zeroE = Uint8Array.from(hs.initiation);
    zeroE.fill(0, 5, 37);
    expect('error' in respondToInitiation(control, zeroE)).toBe(true);
  });

  it('never throws on random input', () => {
    const control = MachinePrivate.generate();
    for (let i = 0; i < 200; i++) {
      const b = Uint8Array.from({ length: i % 3 === 0 ? 101 : i }, () => Math.floor(Math.random() * 256));
      if (i % 3 === 0) {
        b[2] = 1;
        b[3] = 0;
        b[4] = 96;
      }
      expect('error' in respondToInitiation(control, b)).toBe(true);
    }
  });

  it('encodes error messages (type 3, big-endian length)', () => {
    expect([...encodeErrorMessage('no')]).toEqual([3, 0, 2, 0x6e, 0x6f]);
    expect(encodeErrorMessage('x'.repeat(5000)).length).toBe(3 + 1024);
  });
});
