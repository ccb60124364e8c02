import { describe, expect, it } from 'vitest';
import { PROXY_DEFAULT_HOSTNAME, parseCli, UsageError } from './cli.js';

const node = {
  hostname: PROXY_DEFAULT_HOSTNAME,
  dir: undefined,
  ephemeral: false,
  controlUrl: undefined,
  listenAddress: undefined,
  verbose: false,
};

describe('parseCli', () => {
  it.each<[string, unknown]>([
    ['expose 127.0.0.1:3000 --as :80', { mode: 'expose', target: '127.0.0.1:3000', listen: ':80', node }],
    ['expose 3000', { mode: 'expose', target: '3000', listen: ':3000', node }],
    ['expose localhost:8080 --as 80', { mode: 'expose', target: 'localhost:8080', listen: ':80', node }],
    [
      'forward 127.0.0.1:5432 db-node:5432',
      { mode: 'forward', listen: '127.0.0.1:5432', target: 'db-node:5432', node },
    ],
    ['forward 5432 db-node:5432', { mode: 'forward', listen: '5432', target: 'db-node:5432', node }],
    ['--help', { mode: 'help' }],
    ['expose 3000 -h', { mode: 'help' }],
  ])('%s', (line, want) => {
    expect(parseCli(line.split(' '))).toEqual(want);
  });

  it('takes the node options in any position', () => {
    const cmd = parseCli([
      '--hostname',
      'devbox',
      'expose',
      '3000',
      '--dir',
      '/tmp/state',
      '--ephemeral',
      '--control-url',
      'http://127.0.0.1:8080',
      '--listen-address',
      '127.0.0.1',
      '-v',
    ]);
    expect(cmd).toEqual({
      mode: 'expose',
      target: '3000',
      listen: ':3000',
      node: {
        hostname: 'devbox',
        dir: '/tmp/state',
        ephemeral: true,
        controlUrl: 'http://127.0.0.1:8080',
        listenAddress: '127.0.0.1',
        verbose: true,
      },
    });
  });

  it.each([
    ['', /expose or forward/],
    ['connect 1 2', /unknown mode "connect"/],
    ['expose', /which local service/],
    ['expose 1 2', /unexpected argument "2"/],
    ['expose nope', /not host:port or a port/],
    ['forward 5432', /give the local port and the tailnet host:port/],
    ['forward 1 a:1 b', /unexpected argument "b"/],
    ['forward 1 a:1 --as :80', /--as is for expose/],
    ['expose 1 --bogus', /bogus/],
  ])('refuses %j', (line, why) => {
    const argv = line === '' ? [] : line.split(' ');
    expect(() => parseCli(argv)).toThrow(UsageError);
    expect(() => parseCli(argv)).toThrow(why);
  });
});
