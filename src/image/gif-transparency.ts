/**
 * The colour Pillow gives to the transparent pixels of a GIF's first frame.
 *
 * Pillow opens a GIF frame as a palette image and `convert("RGB")` looks every index up in the palette, so a
 * transparent pixel becomes the palette colour of the transparent index. libvips instead returns transparent pixels
 * as (0, 0, 0, alpha 0). A frame has at most one transparent index, so after decoding with sharp every pixel whose
 * alpha is 0 can be given that one colour, which this reads from the GIF's blocks (header, colour tables, graphic
 * control extension) without decoding any pixel data.
 */
export function gifTransparentColour(bytes: Uint8Array): [number, number, number] | null {
  if (bytes.length < 13) return null;
  let offset = 6; // "GIF87a" / "GIF89a"
  const screenFlags = bytes[offset + 4];
  offset += 7;
  let palette: Uint8Array | null = null;
  if (screenFlags & 0x80) {
    const size = 3 * (2 << (screenFlags & 0x07));
    palette = bytes.subarray(offset, offset + size);
    offset += size;
  }
  let transparentIndex: number | null = null;
  while (offset < bytes.length) {
    const introducer = bytes[offset];
    if (introducer === 0x21) {
      // Extension: label, then data sub-blocks. A graphic control extension (0xF9) carries the transparent index.
      const label = bytes[offset + 1];
      if (label === 0xf9 && offset + 6 < bytes.length && bytes[offset + 2] === 4) {
        const flags = bytes[offset + 3];
        transparentIndex = flags & 0x01 ? bytes[offset + 6] : null;
      }
      offset = skipSubBlocks(bytes, offset + 2);
    } else if (introducer === 0x2c) {
      // First image descriptor: its local colour table, if any, replaces the global one for this frame.
      if (offset + 10 > bytes.length) return null;
      const imageFlags = bytes[offset + 9];
      if (imageFlags & 0x80) {
        const size = 3 * (2 << (imageFlags & 0x07));
        palette = bytes.subarray(offset + 10, offset + 10 + size);
      }
      if (transparentIndex === null) return null;
      const at = transparentIndex * 3;
      // An index past the table reads as black, as Pillow's zero-filled palette does.
      if (palette === null || at + 3 > palette.length) return [0, 0, 0];
      return [palette[at], palette[at + 1], palette[at + 2]];
    } else {
      return null;
    }
  }
  return null;
}

// Private: the offset just past a chain of sub-blocks (each a length byte and that many bytes; length 0 ends it).
function skipSubBlocks(bytes: Uint8Array, offset: number): number {
  while (offset < bytes.length) {
    const size = bytes[offset];
    offset += 1 + size;
    if (size === 0) break;
  }
  return offset;
}
