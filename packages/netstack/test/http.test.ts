/** Unchanged Node code on netstack sockets: node:http both ways. */
import * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import { A4, A6, runUntil, twoStacks } from './sim.js';

describe('node:http over netstack', () => {
  for (const host of [A4, A6]) {
    it(`serves requests with server.emit('connection') and http.request({ createConnection }) (${host})`, async () => {
      const { clock, a, b } = twoStacks();
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (d: Buffer) => chunks.push(d));
        req.on('end', () => {
          res.setHeader('content-type', 'text/plain');
          res.end(
            `${req.method} ${req.url} ${Buffer.concat(chunks).length} from ${req.socket.remoteAddress}`,
          );
        });
      });
      a.listen({ port: 80 }, (sock) => server.emit('connection', sock));

      const results: string[] = [];
      const request = (path: string, body: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const req = http.request(
            {
              method: 'POST',
              path,
              headers: { host: 'netstack.test', 'content-length': body.length },
              createConnection: () => b.connect({ host, port: 80 }),
            },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (d: Buffer) => chunks.push(d));
              res.on('end', () => {
                results.push(`${res.statusCode} ${Buffer.concat(chunks).toString()}`);
                resolve();
              });
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const p = Promise.all([request('/a', Buffer.alloc(100_000, 7)), request('/b', Buffer.from('x'))]);
      let settled = false;
      p.then(() => {
        settled = true;
      });
      await runUntil(clock, () => settled);
      await p;
      expect(results.sort()).toEqual([
        `200 POST /a 100000 from ${host === A4 ? '10.0.0.2' : 'fd7a:115c:a1e0::2'}`,
        `200 POST /b 1 from ${host === A4 ? '10.0.0.2' : 'fd7a:115c:a1e0::2'}`,
      ]);
      server.close();
    });
  }

  it('keeps a connection alive across requests with an http.Agent', async () => {
    const { clock, a, b } = twoStacks();
    const server = http.createServer((req, res) => res.end(`hello ${req.url}`));
    let connections = 0;
    a.listen({ port: 8080 }, (sock) => {
      connections++;
      server.emit('connection', sock);
    });
    class NetstackAgent extends http.Agent {
      override createConnection() {
        return b.connect({ host: A4, port: 8080 }) as never;
      }
    }
    const agent = new NetstackAgent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: A4, port: 8080, path, agent }, (res) => {
            let s = '';
            res.on('data', (d: Buffer) => {
              s += d;
            });
            res.on('end', () => resolve(s));
          })
          .on('error', reject);
      });
    const out: string[] = [];
    const p = (async () => {
      for (const path of ['/1', '/2', '/3']) out.push(await get(path));
    })();
    let settled = false;
    p.then(() => {
      settled = true;
    });
    await runUntil(clock, () => settled);
    expect(out).toEqual(['hello /1', 'hello /2', 'hello /3']);
    expect(connections).toBe(1);
    agent.destroy();
    server.close();
  });
});
