#!/usr/bin/python3
"""Regenerates the hostile image corpus in test/hostile/files/ (see README.md here).

Run from the repository root:
    /usr/bin/python3 test/hostile/generate.py
Made with Debian 12's python3-pil 9.4.0. Deterministic: no randomness, no timestamps (the ZIP entry has a fixed
date). CI does not run this; the generated files are committed.
"""
import io
import os
import struct
import zipfile
import zlib

from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'files')


def write(name, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)


def gradient(width, height):
    img = Image.new('RGB', (width, height))
    img.putdata([((x * 255) // max(width - 1, 1), (y * 255) // max(height - 1, 1), ((x + y) * 7) % 256) for y in range(height) for x in range(width)])
    return img


def encode(img, fmt, **kwargs):
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def png_chunk(kind, payload):
    return struct.pack('>I', len(payload)) + kind + payload + struct.pack('>I', zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_chunks(data):
    """(offset, kind, payload) of every chunk of a PNG."""
    chunks, offset = [], 8
    while offset < len(data):
        length = struct.unpack('>I', data[offset:offset + 4])[0]
        chunks.append((offset, data[offset + 4:offset + 8], data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return chunks


SIGNATURE = b'\x89PNG\r\n\x1a\n'

# --- Corrupt or truncated accepted formats (IMAGE_DECODE_FAILED) --------------------------------------------------
base = gradient(64, 48)
jpeg = encode(base, 'JPEG', quality=90)
png = encode(base, 'PNG')
webp = encode(base, 'WEBP', quality=80)
gif = encode(base.convert('P'), 'GIF')
tiff = encode(base, 'TIFF')

write('truncated.jpg', jpeg[: len(jpeg) // 2])
# SOI, then a header of bytes that are no JPEG marker segment at all.
write('garbage-after-soi.jpg', b'\xff\xd8\xff' + bytes((i * 37 + 11) % 256 for i in range(600)))
write('truncated.png', png[:60])
# A valid PNG whose IDAT checksum is wrong (libpng refuses a bad CRC in a critical chunk).
bad_crc = bytearray(png)
idat = next(c for c in png_chunks(png) if c[1] == b'IDAT')
crc_at = idat[0] + 8 + len(idat[2])
bad_crc[crc_at] ^= 0xFF
write('bad-crc.png', bytes(bad_crc))
# A PNG whose IDAT is not zlib data (CRC correct, so only inflating it fails).
ihdr = next(c for c in png_chunks(png) if c[1] == b'IHDR')
write('corrupt-idat.png', SIGNATURE + png_chunk(b'IHDR', ihdr[2]) + png_chunk(b'IDAT', bytes((i * 91 + 3) % 256 for i in range(400))) + png_chunk(b'IEND', b''))
write('signature-only.png', SIGNATURE)
write('truncated.webp', webp[: len(webp) // 2])
# RIFF/WEBP container around a chunk that is no VP8/VP8L/VP8X bitstream.
garbage = bytes((i * 53 + 7) % 256 for i in range(200))
write('garbage.webp', b'RIFF' + struct.pack('<I', 4 + 8 + len(garbage)) + b'WEBP' + b'VP8 ' + struct.pack('<I', len(garbage)) + garbage)
write('truncated.gif', gif[: len(gif) // 2])
# A GIF header followed by an HTML document (a "GIFAR"-style polyglot): sniffed as GIF, not decodable.
write('gif-html-polyglot.gif', b'GIF89a' + b'<html><script>alert(1)</script></html>' * 4)
write('truncated.tiff', tiff[:120])
# An ftyp box that claims AVIF, then nothing an AVIF decoder can read.
write('fake-brand.avif', struct.pack('>I', 24) + b'ftypavif' + struct.pack('>I', 0) + b'avifmif1' + bytes(range(256)) * 2)

# --- Decompression bombs: small files whose header declares a huge pixel count (IMAGE_TOO_LARGE) ----------------
# PNG: the 64x48 PNG above with its IHDR rewritten to 30000x30000 (CRC fixed up); the data is the small image's.
bomb_ihdr = struct.pack('>II', 30000, 30000) + ihdr[2][8:]
rest = b''.join(png_chunk(kind, payload) for _, kind, payload in png_chunks(png) if kind != b'IHDR')
write('bomb-30000x30000.png', SIGNATURE + png_chunk(b'IHDR', bomb_ihdr) + rest)
# JPEG: the 64x48 JPEG with its SOF0 dimensions rewritten to 30000x30000.
sof = jpeg.index(b'\xff\xc0')
bomb_jpeg = bytearray(jpeg)
bomb_jpeg[sof + 5:sof + 9] = struct.pack('>HH', 30000, 30000)
write('bomb-30000x30000.jpg', bytes(bomb_jpeg))
# GIF: a hand-written GIF whose logical screen and single frame say 65535x65535 (4.3 G pixels), with a few bytes of
# LZW data.
write('bomb-65535x65535.gif', b'GIF89a' + struct.pack('<HH', 65535, 65535) + bytes([0x80, 0, 0]) + bytes([0, 0, 0, 255, 255, 255])
      + b'\x2c' + struct.pack('<HHHH', 0, 0, 65535, 65535) + b'\x00' + b'\x02\x02\x44\x01\x00' + b'\x3b')

# --- Not an accepted raster format (UNSUPPORTED_IMAGE_FORMAT) --------------------------------------------------
write('text-with-jpg-extension.jpg', b'This is a plain text file that merely has a .jpg name.\n')
write('document.pdf', b'%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')
write('image.svg', b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"><circle r="5"/></svg>\n')
write('page.html', b'<!DOCTYPE html>\n<html><body><img src="x" onerror="alert(1)"></body></html>\n')
zbuf = io.BytesIO()
with zipfile.ZipFile(zbuf, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr(zipfile.ZipInfo('inner.png', date_time=(2020, 1, 1, 0, 0, 0)), png)
write('archive.zip', zbuf.getvalue())
write('image.bmp', encode(gradient(8, 8), 'BMP'))
write('empty.png', b'')

# --- Valid but unusual (a normal result) --------------------------------------------------------------------------
write('1x1.png', encode(Image.new('RGB', (1, 1), (200, 30, 30)), 'PNG'))
write('1x1.jpg', encode(Image.new('RGB', (1, 1), (30, 200, 30)), 'JPEG', quality=95))
write('1x1.gif', encode(Image.new('P', (1, 1)), 'GIF'))
write('1x1.webp', encode(Image.new('RGB', (1, 1), (30, 30, 200)), 'WEBP', lossless=True))
write('png-with-jpg-extension.jpg', png)
