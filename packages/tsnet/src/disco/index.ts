export { DiscoBox } from './box.js';
export * from './disco.js';
