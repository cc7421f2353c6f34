"""Minimal safetensors reader/writer (Debian has no python3-safetensors).

Format: 8-byte little-endian header length, a JSON header mapping each tensor name to
{dtype, shape, data_offsets}, then the raw little-endian data. The writer follows what
transformers' save_pretrained produces: keys sorted, `__metadata__ = {"format": "pt"}`,
header padded with spaces to a multiple of 8.
"""
import json
import struct

import numpy as np
import torch

_DTYPES = {
    "F32": (np.float32, torch.float32),
    "F16": (np.float16, torch.float16),
    "I64": (np.int64, torch.int64),
}
_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}


def read_safetensors(path):
    """Returns {name: torch.Tensor} with the stored dtypes."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in _DTYPES:
            raise ValueError(f"unsupported dtype {info['dtype']} for {name}")
        np_dtype, _ = _DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        array = np.frombuffer(data, dtype=np.dtype(np_dtype).newbyteorder("<"), count=(end - start) // np.dtype(np_dtype).itemsize, offset=base + start)
        tensors[name] = torch.from_numpy(array.reshape(info["shape"]).copy())
    return tensors


def write_safetensors(path, tensors):
    """Writes {name: torch.Tensor}; tensors keep their dtype (F32, F16 or I64)."""
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _NAMES:
            raise ValueError(f"unsupported dtype {t.dtype} for {name}")
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for raw in chunks:
            f.write(raw)
