// A DERP server the test drives by hand, for client behaviour our DerpServer never provokes
// (frames it never sends, a peer that never finishes a close). It answers the HTTP upgrade and,
// with `handshake: true`, ServerKey → ClientInfo → ServerInfo; then `onConnection` has the socket.
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { getCryptoProvider, NodePrivate } from '@tsnet/core';
import {
  emitFrame,
  FRAME_TYPE,
  FrameReader,
  isReaderFailure,
  openClientInfo,
  sealServerInfoFrame,
} from '../src/index.js';

export interface ScriptedServer {
  /** `http://127.0.0.1:PORT/derp`. */
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every socket and stops listening. */
  close(): Promise<void>;
}

export async function scriptedDerpServer(opts: {
  /** Go through the DERP handshake (ServerKey, then ServerInfo after ClientInfo) before `onConnection`. */
  handshake: boolean;
  /** Called once per connection, after the upgrade (and the handshake if asked). */
  onConnection(socket: Socket): void;
  /** Never answer a client's end() (a peer that does not finish the close); default false. */
  holdClose?: boolean;
}): Promise<ScriptedServer> {
  const crypto = getCryptoProvider();
  const key = NodePrivate.generate(crypto);
  const sockets = new Set<Socket>();
  let accepted = 0;
  // allowHalfOpen, so that `holdClose` can leave a client's end() unanswered.
  const srv = createServer({ allowHalfOpen: true }, (sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    if (opts.holdClose !== true) sock.on('end', () => sock.end());
    let head = Buffer.alloc(0);
    let stage: 'upgrade' | 'clientInfo' | 'done' = 'upgrade';
    const reader = new FrameReader();
    sock.on('data', (d: Buffer) => {
      if (stage === 'upgrade') {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n');
        if (!opts.handshake) {
          stage = 'done';
          opts.onConnection(sock);
          return;
        }
        sock.write(emitFrame({ type: 'ServerKey', serverKey: key.public(crypto).raw }));
        stage = 'clientInfo';
        d = head.subarray(end + 4);
      }
      if (stage !== 'clientInfo') return;
      reader.push(d);
      const f = reader.next();
      if (f === null || isReaderFailure(f) || f.frameType !== FRAME_TYPE.ClientInfo) return;
      const opened = openClientInfo(crypto, key.raw, f.payload);
      if ('error' in opened) throw new Error(opened.error);
      stage = 'done';
      sock.write(sealServerInfoFrame(crypto, key.raw, opened.clientKey));
      opts.onConnection(sock);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/derp`,
    get accepted() {
      return accepted;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}
