"""Warm-starts a finer-patch model from a training checkpoint (same image size, smaller patches).

The new patch embedding sees each small patch as the old one saw it enlarged to the old patch size:
w_new = B^T w_old, where B bilinearly upsamples a new patch to the old patch size, so that
embed_new(x) = embed_old(B x). Position embeddings are interpolated bicubically from the old grid to the
new one (the class position is kept). Everything else (transformer layers, text stacks, training-only heads)
is copied. The optimizer state is dropped: train.py starts a fresh optimizer, with warm-up, when a
checkpoint has none.

    /usr/bin/python3 tools/demo-model/resize_patches.py --checkpoint IN.pt --patch 8 --out OUT_DIR/checkpoint.pt
"""
import argparse

import torch
import torch.nn.functional as F


def upsample_matrix(small: int, large: int) -> torch.Tensor:
    """[large*large, small*small]: bilinear resize (align_corners=False) of a small x small patch."""
    basis = torch.eye(small * small).reshape(small * small, 1, small, small)
    resized = F.interpolate(basis, size=(large, large), mode="bilinear", align_corners=False)
    return resized.reshape(small * small, large * large).T


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--patch", type=int, required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    state = torch.load(args.checkpoint)
    model = state["model"]
    vision = dict(state["vision_config"])
    old_patch, size = vision["patch_size"], vision["image_size"]
    if size % args.patch != 0:
        raise SystemExit(f"image size {size} is not a multiple of patch {args.patch}")
    old_grid, new_grid = size // old_patch, size // args.patch

    prefix = "vision_model.embeddings."
    weight = model[prefix + "patch_embedding.weight"]  # [D, C, old, old]
    d, c = weight.shape[:2]
    b = upsample_matrix(args.patch, old_patch)  # [old*old, new*new]
    model[prefix + "patch_embedding.weight"] = (weight.reshape(d * c, old_patch * old_patch) @ b).reshape(d, c, args.patch, args.patch).contiguous()

    pos = model[prefix + "position_embedding"]  # [1, 1 + old_grid^2, D]
    grid = pos[:, 1:].reshape(1, old_grid, old_grid, d).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    model[prefix + "position_embedding"] = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, new_grid * new_grid, d)], dim=1).contiguous()

    vision["patch_size"] = args.patch
    out = {"model": model, "optimizer": None, "step": state["step"], "elapsed": 0.0,
           "vision_config": vision, "text_config": state["text_config"], "args": state["args"]}
    torch.save(out, args.out)
    print(f"patch {old_patch} -> {args.patch}: grid {old_grid}x{old_grid} -> {new_grid}x{new_grid}; wrote {args.out} (step {state['step']})")


if __name__ == "__main__":
    main()
