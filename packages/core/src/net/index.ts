export { AddrPort, IPAddr, IPPrefix } from './addr.js';
