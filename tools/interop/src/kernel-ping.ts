/**
 * The kernel inside a WireGuard fixture's namespace pings an address: iputils ping, else busybox
 * ping, else a raw-socket ping in python3 (this machine's namespaces have no ping binary). Used by
 * the wireguard and netstack interop tests.
 */
import { run } from './proc.js';
import type { WgNetnsPeer } from './wg-netns.js';

/**
 * A minimal `ping -c 3 -W 2` on a raw socket, for hosts without iputils-ping or busybox: the kernel
 * still builds the IP header (and the ICMPv6 checksum), so this is the kernel's ping in all but name.
 */
const PY_PING = `
import os, socket, struct, sys, time
addr = sys.argv[1]; v6 = ':' in addr
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
def csum(b):
    if len(b) % 2: b += b'\\0'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
ident = os.getpid() & 0xffff; got = 0
for seq in range(1, 4):
    body = struct.pack('!HH', ident, seq) + b'tsnet-ping'
    hdr = struct.pack('!BBH', 128 if v6 else 8, 0, 0)
    pkt = hdr + body if v6 else struct.pack('!BBH', 8, 0, csum(hdr + body)) + body
    s.sendto(pkt, (addr, 0)); end = time.time() + 2
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try: d = s.recv(2048)
        except socket.timeout: break
        icmp = d if v6 else d[(d[0] & 15) * 4:]
        if icmp[0] == (129 if v6 else 0) and struct.unpack('!HH', icmp[4:8]) == (ident, seq): got += 1; break
    time.sleep(0.2)
print('3 packets transmitted, %d received' % got); sys.exit(0 if got == 3 else 1)
`;

/** The kernel pings `addr` from inside the namespace: iputils ping, else busybox ping, else a raw-socket ping in python3. */
export async function kernelPing(
  peer: WgNetnsPeer,
  addr: string,
): Promise<{ code: number; out: string; tool: string }> {
  const v6 = addr.includes(':');
  const candidates: string[][] = [
    ['ping', ...(v6 ? ['-6'] : []), '-c', '3', '-W', '2', addr],
    ['busybox', v6 ? 'ping6' : 'ping', '-c', '3', '-W', '2', addr],
    ['python3', '-c', PY_PING, addr],
  ];
  for (const cmd of candidates) {
    const which = await run('sh', ['-c', `command -v ${cmd[0]}`]);
    if (which.code !== 0) continue;
    const r = await peer.exec(cmd, { timeoutMs: 15_000 });
    return { code: r.code, out: r.stdout + r.stderr, tool: cmd[0]! };
  }
  throw new Error('none of ping (iputils-ping), busybox or python3 is installed');
}
