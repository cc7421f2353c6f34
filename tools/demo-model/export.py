"""Writes the two HF checkpoint folders from a train.py checkpoint:

    /usr/bin/python3 tools/demo-model/export.py --checkpoint /tmp/demo-train/checkpoint.pt --out models [--dtype float16]

models/blip-demo/      BlipForConditionalGeneration (vision_model.* + text_decoder.* = caption decoder)
models/blip-demo-vqa/  BlipForQuestionAnswering     (vision_model.* + text_encoder.* + text_decoder.* = answer decoder)
Each folder: config.json (4.36 diff style), generation_config.json, model.safetensors,
preprocessor_config.json, and the BlipProcessor tokenizer files (vocab.txt, tokenizer_config.json,
special_tokens_map.json, added_tokens.json).
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blip_model import BlipForConditionalGeneration, BlipForQuestionAnswering, TextConfig, VisionConfig  # noqa: E402
from hf_config import config_dict  # noqa: E402
from preprocess import CLIP_MEAN, CLIP_STD, RESCALE  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402
from tokenizer import SPECIAL  # noqa: E402
from vocab import ADDED_TOKENS, build_vocab  # noqa: E402

TRANSFORMERS_VERSION = "4.36.2"


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_tokenizer(folder, vocab, model_max_length):
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("".join(t + "\n" for t in vocab))
    ids = {t: i for i, t in enumerate(vocab + ADDED_TOKENS)}
    entry = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    dump(os.path.join(folder, "added_tokens.json"), {t: ids[t] for t in ADDED_TOKENS})
    dump(os.path.join(folder, "special_tokens_map.json"), {
        "additional_special_tokens": [{"content": "[ENC]", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}],
        "bos_token": {"content": "[DEC]", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]",
    })
    dump(os.path.join(folder, "tokenizer_config.json"), {
        "added_tokens_decoder": {str(ids[t]): {"content": t, **entry} for t in SPECIAL + ADDED_TOKENS},
        "additional_special_tokens": ["[ENC]"],
        "bos_token": "[DEC]",
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "do_basic_tokenize": True,
        "do_lower_case": True,
        "mask_token": "[MASK]",
        "model_max_length": model_max_length,
        "never_split": None,
        "pad_token": "[PAD]",
        "processor_class": "BlipProcessor",
        "sep_token": "[SEP]",
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]",
    })
    return ids


def write_folder(folder, architecture, state, vision, text, vocab, dtype):
    os.makedirs(folder, exist_ok=True)
    ids = write_tokenizer(folder, vocab, text.max_position_embeddings)
    cfg = config_dict(architecture, vision, text, ids["[DEC]"], ids["[SEP]"], TRANSFORMERS_VERSION)
    cfg["torch_dtype"] = "float16" if dtype == torch.float16 else "float32"
    dump(os.path.join(folder, "config.json"), cfg)
    dump(os.path.join(folder, "generation_config.json"), {
        "_from_model_config": True, "bos_token_id": ids["[DEC]"], "eos_token_id": 2, "pad_token_id": 0,
        "transformers_version": TRANSFORMERS_VERSION,
    })
    dump(os.path.join(folder, "preprocessor_config.json"), {
        "do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": list(CLIP_MEAN), "image_processor_type": "BlipImageProcessor", "image_std": list(CLIP_STD),
        "processor_class": "BlipProcessor", "resample": 3, "rescale_factor": RESCALE,
        "size": {"height": vision.image_size, "width": vision.image_size},
    })
    write_safetensors(os.path.join(folder, "model.safetensors"), {k: v.to(dtype) for k, v in state.items()})


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True, help="parent folder, e.g. models/")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    args = p.parse_args()
    ckpt = torch.load(args.checkpoint)
    vision = VisionConfig(**ckpt["vision_config"])
    text = TextConfig(**ckpt["text_config"])
    weights = ckpt["model"]
    dtype = torch.float16 if args.dtype == "float16" else torch.float32
    vocab = build_vocab()
    if len(vocab) + len(ADDED_TOKENS) != text.vocab_size:
        raise SystemExit(f"vocab.py gives {len(vocab) + len(ADDED_TOKENS)} tokens, the checkpoint has {text.vocab_size}")

    def part(prefix, rename):
        return {rename + k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}

    vision_w = part("vision_model.", "vision_model.")
    caption = {**vision_w, **part("caption_decoder.", "text_decoder.")}
    vqa = {**vision_w, **part("text_encoder.", "text_encoder."), **part("answer_decoder.", "text_decoder.")}
    for name, cls, state in (("blip-demo", BlipForConditionalGeneration, caption), ("blip-demo-vqa", BlipForQuestionAnswering, vqa)):
        expected = set(cls(vision, text).state_dict())
        if set(state) != expected:
            raise SystemExit(f"{name}: key mismatch {sorted(expected ^ set(state))[:5]}")
        write_folder(os.path.join(args.out, name), cls.__name__, state, vision, text, vocab, dtype)
        print(f"wrote {os.path.join(args.out, name)} ({len(state)} tensors, {args.dtype})")


if __name__ == "__main__":
    main()
