"""Turns the two exported HF folders (models/blip-demo, models/blip-demo-vqa) back into a train.py
checkpoint, so that training can warm-start from the shipped weights when the original training
checkpoint is gone (it lives outside git):

    /usr/bin/python3 tools/demo-model/import_hf.py --models models --out /work/demo-train/run4/checkpoint.pt

The inverse of export.py's key mapping: vision_model.* (identical in both folders, checked) ->
vision_model.*; blip-demo text_decoder.* -> caption_decoder.*; blip-demo-vqa text_encoder.* ->
text_encoder.*, text_decoder.* -> answer_decoder.*. Float16 weights become float32. The training-only
patch head (`aux.*`) is not exported, so it is missing here and train.py initialises it and starts
a fresh optimizer with warm-up (as for any checkpoint without optimizer state).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_config import load_configs  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", required=True, help="folder holding blip-demo/ and blip-demo-vqa/")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    caption = read_safetensors(os.path.join(args.models, "blip-demo", "model.safetensors"))
    vqa = read_safetensors(os.path.join(args.models, "blip-demo-vqa", "model.safetensors"))

    model = {}
    for name, tensor in caption.items():
        if name.startswith("vision_model."):
            if not torch.equal(tensor, vqa[name]):
                raise SystemExit(f"{name} differs between the two folders: they were not trained jointly")
            model[name] = tensor.float()
        elif name.startswith("text_decoder."):
            model["caption_decoder." + name[len("text_decoder."):]] = tensor.float()
        else:
            raise SystemExit(f"unexpected caption tensor {name}")
    for name, tensor in vqa.items():
        if name.startswith("text_encoder."):
            model[name] = tensor.float()
        elif name.startswith("text_decoder."):
            model["answer_decoder." + name[len("text_decoder."):]] = tensor.float()
        elif not name.startswith("vision_model."):
            raise SystemExit(f"unexpected VQA tensor {name}")

    vision, text, _ = load_configs(os.path.join(args.models, "blip-demo", "config.json"))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"model": model, "optimizer": None, "step": 0, "elapsed": 0.0, "vision_config": vars(vision), "text_config": vars(text), "args": {}}, args.out)
    print(f"wrote {args.out}: {len(model)} tensors, image {vision.image_size} / patch {vision.patch_size}, hidden {vision.hidden_size}")


if __name__ == "__main__":
    main()
