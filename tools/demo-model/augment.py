"""On-the-fly pixel augmentation of training batches (train.py --augment-pixels P).

Works on the cached, already resized uint8 images (96 x 96), so every epoch sees each scene a little
differently. The geometric and colour variety (shape proportions, rotations, shades, backgrounds,
sizes) comes from the augmented scene generator (tools/scenes/augment.ts); here only what does not
change any answer:
  * zoom 0.93-1.07 about a point near the centre and a shift of up to 3 px: sizes stay on their side
    of the small/large threshold (0.105 * 1.07 < 0.12 < 0.135 * 0.93) and positions keep their word
    (the generator keeps the major offset >= 0.2 of the picture);
  * Gaussian blur (radius 0.3-1.2 px), additive Gaussian noise (sigma 1-9 levels), JPEG re-encoding
    (quality 25-90), each independently.
"""
import io

import numpy as np
from PIL import Image, ImageFilter


def augment_batch(images, rng, p):
    """uint8 [B, H, W, 3] -> a new augmented uint8 array; each image is augmented with probability p."""
    out = images.copy()
    for i in range(len(out)):
        if rng.random() < p:
            out[i] = augment_one(out[i], rng)
    return out


def augment_one(pixels, rng):
    h, w = pixels.shape[:2]
    image = Image.fromarray(pixels)
    if rng.random() < 0.5:
        zoom = rng.uniform(0.93, 1.07)
        dx, dy = rng.uniform(-3, 3, size=2)
        cx, cy = w / 2, h / 2
        # PIL's affine maps output to input coordinates: x_in = (x_out - cx - dx) / zoom + cx.
        coeffs = (1 / zoom, 0, cx - (cx + dx) / zoom, 0, 1 / zoom, cy - (cy + dy) / zoom)
        corner = tuple(int(v) for v in pixels[0, 0])
        image = image.transform((w, h), Image.AFFINE, coeffs, resample=Image.BILINEAR, fillcolor=corner)
    if rng.random() < 0.3:
        image = image.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.3, 1.2)))
    arr = np.asarray(image, dtype=np.float32)
    if rng.random() < 0.35:
        arr = arr + rng.normal(0.0, rng.uniform(1, 9), size=arr.shape)
    arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        buffer = io.BytesIO()
        Image.fromarray(arr).save(buffer, format="JPEG", quality=int(rng.integers(25, 91)))
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            arr = np.asarray(decoded.convert("RGB"), dtype=np.uint8)
    return arr
