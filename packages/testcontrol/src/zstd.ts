/**
 * A zstd *frame* holding raw (stored) blocks: RFC 8878 §3.1.1 without any compression.
 *
 * Go's control client always asks for `Compress: "zstd"` and decodes every map message with
 * `zstdframe.AppendDecode` (tailscale/tailscale `control/controlclient/direct.go decodeMsg`); it
 * does not care whether the frame is actually compressed. Node 20 has no zstd, and a loopback test
 * tailnet does not need compression, so each message is framed as Raw_Blocks:
 *
 * ```
 * magic 28 b5 2f fd | FHD 0xa0 (Single_Segment, 4-byte Frame_Content_Size) | FCS u32 LE
 * block header u24 LE = Last_Block(1 bit) | Block_Type 0 (Raw) << 1 | Block_Size << 3 | bytes...
 * ```
 */

const MAGIC = [0x28, 0xb5, 0x2f, 0xfd] as const;
/** Block_Maximum_Size (RFC 8878 §3.1.1.2.3). */
export const ZSTD_MAX_BLOCK = 128 * 1024;

/** Wraps `data` in a zstd frame of raw blocks (at most 4 GiB - 1). */
export function zstdRawFrame(data: Uint8Array): Uint8Array {
  if (data.length > 0xffffffff) throw new RangeError('zstdRawFrame: input too large');
  const nBlocks = Math.max(1, Math.ceil(data.length / ZSTD_MAX_BLOCK));
  const out = new Uint8Array(4 + 1 + 4 + nBlocks * 3 + data.length);
  out.set(MAGIC, 0);
  out[4] = 0xa0; // FCS_Field_Size flag 2 (4 bytes), Single_Segment_flag
  new DataView(out.buffer).setUint32(5, data.length, true);
  let off = 9;
  for (let i = 0; i < nBlocks; i++) {
    const piece = data.subarray(i * ZSTD_MAX_BLOCK, (i + 1) * ZSTD_MAX_BLOCK);
    const last = i === nBlocks - 1 ? 1 : 0;
    const hdr = last | (piece.length << 3); // Block_Type 0 = Raw_Block
    out[off] = hdr & 0xff;
    out[off + 1] = (hdr >>> 8) & 0xff;
    out[off + 2] = (hdr >>> 16) & 0xff;
    out.set(piece, off + 3);
    off += 3 + piece.length;
  }
  return out;
}
