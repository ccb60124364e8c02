export { DiscoBox, type OpenedDisco } from './box.js';
export * from './disco.js';
