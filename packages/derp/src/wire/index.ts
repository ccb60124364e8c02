/** The DERP wire format: constants, frames, the stream reader, the handshake bodies. Formats only, no I/O. */
export * from './constants.js';
export * from './frames.js';
export * from './info.js';
export * from './reader.js';
