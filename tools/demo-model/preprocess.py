"""BlipImageProcessor (transformers 4.36, slow/PIL path) for one image:
PIL convert("RGB") -> PIL BICUBIC resize to size x size -> uint8 * (1/255) in float64, cast to
float32 -> (x - mean) / std in float32 -> CHW. Split in two so that training can cache the
resized uint8 images and normalise them later with an exact lookup table.
"""
import numpy as np
from PIL import Image

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
RESCALE = 0.00392156862745098


def resize_rgb(image, size):
    """uint8 [size, size, 3] exactly as the processor's resize step leaves it."""
    rgb = image.convert("RGB")
    return np.asarray(rgb.resize((size, size), resample=Image.BICUBIC), dtype=np.uint8)


def normalization_table():
    """[3, 256] float32: the normalised value of every uint8 level per channel (same arithmetic as HF)."""
    levels = (np.arange(256, dtype=np.uint8) * RESCALE).astype(np.float32)
    mean = np.asarray(CLIP_MEAN, dtype=np.float32)[:, None]
    std = np.asarray(CLIP_STD, dtype=np.float32)[:, None]
    return ((levels[None, :] - mean) / std).astype(np.float32)


def normalize(resized, table=None):
    """uint8 [..., H, W, 3] -> float32 [..., 3, H, W]."""
    table = normalization_table() if table is None else table
    out = np.stack([table[c][resized[..., c]] for c in range(3)], axis=-3)
    return out.astype(np.float32)


def pixel_values(image, size):
    return normalize(resize_rgb(image, size))[None]
