import { once } from 'node:events';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, WebSocketStream } from './websocket.js';

const OP_BINARY = 0x2;
const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** A connected TCP pair on 127.0.0.1: `raw` is the peer we write frames on by hand. */
async function pair(): Promise<{ ours: Socket; raw: Socket; close: () => void }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const raw = tcpConnect(port, '127.0.0.1');
  const [ours] = await accepted;
  sockets.push(ours, raw);
  return { ours, raw, close: () => server.close() };
}

describe('WebSocketStream (server role, as @tsnet/testcontrol uses it)', () => {
  it('reads masked client frames and writes unmasked ones', async () => {
    const { ours, raw, close } = await pair();
    const ws = new WebSocketStream(ours, new Uint8Array(0), 'server');
    raw.write(encodeFrame(OP_BINARY, Buffer.from('hello'), Buffer.from([1, 2, 3, 4])));
    const [chunk] = (await once(ws, 'data')) as [Buffer];
    expect(chunk.toString()).toBe('hello');
    ws.write(Buffer.from('back'));
    const [frame] = (await once(raw, 'data')) as [Buffer];
    expect(frame[0]).toBe(0x80 | OP_BINARY);
    expect(frame[1]).toBe(4); // no mask bit
    expect(frame.subarray(2).toString()).toBe('back');
    ws.destroy();
    close();
  });

  it('closes on an unmasked client frame (RFC 6455 §5.1)', async () => {
    const { ours, raw, close } = await pair();
    const ws = new WebSocketStream(ours, new Uint8Array(0), 'server');
    raw.write(encodeFrame(OP_BINARY, Buffer.from('x'), null));
    const [err] = (await once(ws, 'error')) as [Error];
    expect(err.message).toMatch(/unmasked client frame/);
    close();
  });

  it('closes when a peer announces a frame over the limit, before buffering it', async () => {
    const { ours, raw, close } = await pair();
    const ws = new WebSocketStream(ours, new Uint8Array(0), 'server');
    const header = Buffer.alloc(14);
    header[0] = 0x80 | OP_BINARY;
    header[1] = 0x80 | 127;
    header.writeUInt32BE(0, 2);
    header.writeUInt32BE(64 << 20, 6); // 64 MiB announced
    raw.write(header);
    const [err] = (await once(ws, 'error')) as [Error];
    expect(err.message).toMatch(/too large/);
    close();
  });
});
