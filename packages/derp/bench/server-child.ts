// Runs our DerpServer alone in this process (so the benchmark's clients do not share its event
// loop) and prints its URL; exits when stdin closes.
import { DerpServer } from '../src/index.js';

const server = new DerpServer();
const { url } = await server.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`URL=${url}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close().then(() => process.exit(0));
});
process.on('SIGTERM', () => process.exit(0));
