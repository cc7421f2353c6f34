"""Scene datasets written by tools/scenes/cli.ts: records, resized images, token ids."""
import json
import os

import numpy as np
from PIL import Image

from preprocess import resize_rgb


class SceneSet:
    def __init__(self, folder, image_size, tokenizer):
        with open(os.path.join(folder, "index.jsonl")) as f:
            self.records = [json.loads(line) for line in f]
        self.images = load_resized(folder, self.records, image_size)
        tok = tokenizer
        self.captions = [[tok.bos_id] + tok.encode_words(r["caption"]) + [tok.sep_id] for r in self.records]
        self.questions = []
        for r in self.records:
            per_type = {}
            for q in r["questions"]:
                entry = (tok.encode(q["question"]), [tok.bos_id] + tok.encode_words(q["answer"]) + [tok.sep_id])
                per_type.setdefault(q["type"], []).append(entry)
            self.questions.append(per_type)
        for ids in self.captions + [e for p in self.questions for v in p.values() for pair in v for e in pair]:
            if tok.unk_id in ids:
                raise ValueError(f"[UNK] in {tok.decode(ids)!r}: extend vocab.py")

    def __len__(self):
        return len(self.records)


def load_resized(folder, records, size):
    """uint8 [N, size, size, 3], cached next to the dataset (resizing 40k images takes a while)."""
    cache = os.path.join(folder, f"resized_{size}.npy")
    if os.path.exists(cache):
        images = np.load(cache)
        if images.shape[0] == len(records):
            return images
    images = np.empty((len(records), size, size, 3), dtype=np.uint8)
    for i, r in enumerate(records):
        with Image.open(os.path.join(folder, r["file"])) as im:
            images[i] = resize_rgb(im, size)
    np.save(cache, images)
    return images


def pad(seqs, pad_id):
    """LongTensor-ready [B, L] array + attention mask (right padding)."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask


# Patch labels for the auxiliary training loss (train.py): which object, if any, each patch of the
# resized image lies on. Kinds/colours in tools/scenes order; 0 = background.
KINDS = ("circle", "square", "triangle", "star")
COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black")
EXTENT = {"circle": 1.0, "square": 1.13, "triangle": 1.1, "star": 1.1}


def patch_labels(records, grid):
    """int64 [N, grid*grid, 3]: (kind+1, colour+1, size+1) of the shape whose extent circle holds the patch centre."""
    centres = (np.arange(grid) + 0.5) / grid
    fy, fx = np.meshgrid(centres, centres, indexing="ij")
    fx, fy = fx.reshape(-1), fy.reshape(-1)
    labels = np.zeros((len(records), grid * grid, 3), dtype=np.int64)
    for i, r in enumerate(records):
        w, h = r["spec"]["render"]["width"], r["spec"]["render"]["height"]
        for s in r["spec"]["shapes"]:
            reach = EXTENT[s["shape"]] * s["radius"] * min(w, h)
            inside = np.hypot((fx - s["cx"]) * w, (fy - s["cy"]) * h) <= reach
            labels[i, inside] = (KINDS.index(s["shape"]) + 1, COLORS.index(s["color"]) + 1, 1 + (s["size"] == "large"))
    return labels
