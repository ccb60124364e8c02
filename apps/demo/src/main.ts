// The README's first command. Until the `tsnet` facade exists it says honestly what each package
// of the workspace can do today, reading each package's README status.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const packagesDir = join(root, 'packages');

console.log('tsnet for TypeScript: an embedded Tailscale node for Node.js (work in progress)\n');
console.log('The packages of this workspace and where each stands:\n');
for (const dir of readdirSync(packagesDir).sort()) {
  const manifest = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as {
    name: string;
    description: string;
  };
  const readme = readFileSync(join(packagesDir, dir, 'README.md'), 'utf8');
  const status = /\*\*Status: ([^*]+)\*\*/.exec(readme)?.[1] ?? 'see README';
  console.log(`  ${manifest.name.padEnd(20)} ${status}`);
  console.log(`  ${''.padEnd(20)} ${manifest.description}\n`);
}
console.log('The two-node demo (an in-process tailnet, WhoIs over HTTP) arrives with the tsnet Server.');
