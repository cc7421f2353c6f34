"""Parity of this tool's BLIP implementation with transformers 4.36 on the blip-tiny fixtures.

    /usr/bin/python3 tools/demo-model/check_parity.py [--fixtures test/fixtures/blip-tiny]

Loads caption/ and vqa/ model.safetensors into our modules (the key sets must match exactly),
runs them on the fixture pixel_values and compares with the reference tensors and greedy ids.
Also checks our preprocessing against the fixture pixel_values and that our safetensors
writer reproduces the fixture files byte for byte. Exits 1 if any float diff > 1e-4 or any
id differs.
"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blip_model import BlipForConditionalGeneration, BlipForQuestionAnswering  # noqa: E402
from generate import answer_ids, caption_ids  # noqa: E402
from hf_config import load_configs  # noqa: E402
from preprocess import pixel_values as preprocess_image  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402
from tokenizer import WordPieceTokenizer  # noqa: E402

TOLERANCE = 1e-4


def load_bin(folder, info):
    dtype = {"float32": np.float32, "int64": np.int64, "uint8": np.uint8}[info["dtype"]]
    return torch.from_numpy(np.fromfile(os.path.join(folder, info["file"]), dtype=dtype).reshape(info["shape"]))


def load_model(folder, cls):
    vision, text, raw = load_configs(os.path.join(folder, "config.json"))
    model = cls(vision, text).eval()
    weights = read_safetensors(os.path.join(folder, "model.safetensors"))
    expected = set(model.state_dict())
    if set(weights) != expected:
        raise SystemExit(f"key mismatch in {folder}: missing {sorted(expected - set(weights))}, unexpected {sorted(set(weights) - expected)}")
    model.load_state_dict({k: v.float() for k, v in weights.items()}, strict=True)
    return model, raw


class Report:
    def __init__(self):
        self.failed = False

    def diff(self, name, ours, ref):
        if tuple(ours.shape) != tuple(ref.shape):
            print(f"FAIL {name}: shape {tuple(ours.shape)} vs {tuple(ref.shape)}")
            self.failed = True
            return
        d = (ours.float() - ref.float()).abs().max().item()
        ok = d <= TOLERANCE
        self.failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: max abs diff {d:.3e}")

    def same(self, name, ours, ref):
        ok = ours.shape == ref.shape and bool(torch.equal(ours, ref))
        self.failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {ours.tolist() if not ok else 'ids equal'}{'' if ok else ' vs ' + str(ref.tolist())}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", default=os.path.join(here, "..", "..", "test", "fixtures", "blip-tiny"))
    args = parser.parse_args()
    root = os.path.abspath(args.fixtures)
    torch.set_num_threads(1)
    report = Report()

    images = json.load(open(os.path.join(root, "images", "index.json")))
    image_files = [img["file"] for img in images["images"]]
    pixels = {}
    for k, file in enumerate(image_files):
        info = {"file": f"ref/pixel_values_{k}.bin", "dtype": "float32", "shape": [1, 3, 32, 32]}
        pixels[os.path.basename(file)] = load_bin(os.path.join(root, "images"), info)
        ours = torch.from_numpy(preprocess_image(Image.open(os.path.join(root, file)), 32))
        report.diff(f"preprocess {os.path.basename(file)} vs pixel_values_{k}", ours, pixels[os.path.basename(file)])
    pixel_list = [pixels[os.path.basename(f)] for f in image_files]

    # ---- captioning
    folder = os.path.join(root, "caption")
    refs = json.load(open(os.path.join(folder, "references.json")))
    tensors = refs["tensors"]
    ids = refs["token_ids"]
    model, _ = load_model(folder, BlipForConditionalGeneration)
    with torch.no_grad():
        embeds = [model.vision_model(p) for p in pixel_list]
        for k, e in enumerate(embeds):
            report.diff(f"caption image_embeds_{k}", e, load_bin(folder, tensors[f"image_embeds_{k}"]))
        logits = model.text_decoder(load_bin(folder, tensors["decoder_input_ids_fixed"]), embeds[0])
        report.diff("caption decoder_logits_0", logits, load_bin(folder, tensors["decoder_logits_0"]))
        batch_embeds = model.vision_model(torch.cat([pixel_list[3], pixel_list[4]]))
        logits = model.text_decoder(load_bin(folder, tensors["decoder_input_ids_batch2"]), batch_embeds)
        report.diff("caption decoder_logits_batch2", logits, load_bin(folder, tensors["decoder_logits_batch2"]))
        for case in refs["cases"]:
            name = case["name"]
            if not name.startswith("greedy_noprompt_"):
                continue
            k = int(name.rsplit("_", 1)[1])
            max_length = 1 + case["generate_kwargs"]["max_new_tokens"]
            out = caption_ids(model, pixel_list[k], ids["bos"], ids["sep"], ids["pad"], max_length)
            report.same(f"caption {name} greedy ids", out, load_bin(folder, tensors[f"{name}.output_ids"]))

    # ---- VQA
    folder = os.path.join(root, "vqa")
    refs = json.load(open(os.path.join(folder, "references.json")))
    tensors = refs["tensors"]
    ids = refs["token_ids"]
    model, _ = load_model(folder, BlipForQuestionAnswering)
    with torch.no_grad():
        for case in refs["cases"]:
            name = case["name"]
            if name.startswith("beam"):
                continue
            px = torch.cat([pixels[os.path.basename(f)] for f in case["images"]])
            if px.shape[0] == 1 and len(case["questions"]) > 1:
                px = px.expand(len(case["questions"]), -1, -1, -1)
            input_ids = load_bin(folder, tensors[f"{name}.input_ids"])
            mask = load_bin(folder, tensors[f"{name}.attention_mask"])
            image_embeds = model.vision_model(px)
            report.diff(f"vqa {name}.image_embeds", image_embeds, load_bin(folder, tensors[f"{name}.image_embeds"]))
            question = model.text_encoder(input_ids, mask, image_embeds)
            report.diff(f"vqa {name}.question_embeds", question, load_bin(folder, tensors[f"{name}.question_embeds"]))
            max_length = 1 + case["generate_kwargs"]["max_new_tokens"]
            out = answer_ids(model, px, input_ids, mask, ids["bos"], ids["sep"], ids["pad"], max_length)
            report.same(f"vqa {name} greedy answer ids", out, load_bin(folder, tensors[f"{name}.answer_ids"]))
        question = model.text_encoder(load_bin(folder, tensors["single_0.input_ids"]), None, model.vision_model(pixel_list[0]))
        logits = model.text_decoder(load_bin(folder, tensors["answer_decoder_input_ids_0"]), question)
        report.diff("vqa answer_decoder_logits_0", logits, load_bin(folder, tensors["answer_decoder_logits_0"]))

    # ---- our tokenizer against the slow BertTokenizer cases
    cases = json.load(open(os.path.join(root, "tokenizer_cases.json")))
    vocab = open(os.path.join(root, "caption", "vocab.txt"), encoding="utf-8").read().splitlines()
    added = json.load(open(os.path.join(root, "caption", "added_tokens.json")))
    tok = WordPieceTokenizer(vocab, sorted(added, key=added.get))
    bad = [c["text"] for c in cases["encode"] if tok.encode(c["text"]) != c["input_ids"]]
    bad += [c["skip_special_tokens_true"] for c in cases["decode"] if tok.decode(c["ids"]) != c["skip_special_tokens_true"]]
    report.failed |= bool(bad)
    print(f"{'ok  ' if not bad else 'FAIL'} tokenizer: {len(cases['encode'])} encode + {len(cases['decode'])} decode cases{'' if not bad else ', wrong: ' + repr(bad)}")

    # ---- our safetensors writer against the fixture files
    for name in ("caption", "vqa"):
        src = os.path.join(root, name, "model.safetensors")
        with tempfile.TemporaryDirectory() as tmp:
            dst = os.path.join(tmp, "model.safetensors")
            write_safetensors(dst, read_safetensors(src))
            same = open(src, "rb").read() == open(dst, "rb").read()
        report.failed |= not same
        print(f"{'ok  ' if same else 'FAIL'} safetensors writer reproduces {name}/model.safetensors byte for byte")

    print("PARITY FAILED" if report.failed else f"parity ok (tolerance {TOLERANCE})")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
