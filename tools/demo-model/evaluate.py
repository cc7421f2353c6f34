"""Held-out evaluation with greedy decoding as HF generate does it (max_length 20).

Metrics (the TS evaluation should compute the same):
  * VQA exact match per question type: decoded answer (skip_special_tokens, stripped) == the
    generator's answer. Every question of every held-out scene is asked on its own (no padding).
  * caption object recall ("attribute recall"): over all ground-truth objects, the fraction whose
    "<colour> <shape>" appears as two consecutive words of the generated caption.
  * also: colour recall and shape recall (word present anywhere), size accuracy ("<size> <colour>
    <shape>" present), background accuracy ("on a <bg> background"), caption exact match, and
    object precision (generated "<colour> <shape>" pairs that exist in the scene).

    /usr/bin/python3 tools/demo-model/evaluate.py --data DIR --caption models/blip-demo --vqa models/blip-demo-vqa
"""
import argparse
import json
import os
import re
import sys
from collections import defaultdict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import greedy  # noqa: E402
from preprocess import normalization_table  # noqa: E402

SHAPES = ("circle", "square", "triangle", "star")
COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black")


def to_pixels(images, table):
    """uint8 [B, H, W, 3] numpy -> normalised float32 [B, 3, H, W] tensor (exact HF arithmetic)."""
    idx = torch.from_numpy(np.ascontiguousarray(images)).long()
    return torch.stack([table[c][idx[..., c]] for c in range(3)], dim=1)


def caption_scores(records, captions):
    totals = defaultdict(float)
    n_obj = 0
    n_pred = 0
    for rec, text in zip(records, captions):
        words = re.findall(r"[a-z]+", text.lower())
        pairs = set(zip(words, words[1:]))
        triples = set(zip(words, words[1:], words[2:]))
        bg = rec["spec"]["background"]["color"]
        for s in rec["spec"]["shapes"]:
            n_obj += 1
            totals["object_recall"] += (s["color"], s["shape"]) in pairs
            totals["color_recall"] += s["color"] in words
            totals["shape_recall"] += s["shape"] in words
            totals["size_accuracy"] += (s["size"], s["color"], s["shape"]) in triples
        predicted = [(a, b) for a, b in zip(words, words[1:]) if a in COLORS and b in SHAPES]
        truth = {(s["color"], s["shape"]) for s in rec["spec"]["shapes"]}
        n_pred += len(predicted)
        totals["object_precision"] += sum(p in truth for p in predicted)
        totals["background_accuracy"] += f"on a {bg} background" in text
        totals["exact_match"] += text == rec["caption"]
    out = {k: totals[k] / n_obj for k in ("object_recall", "color_recall", "shape_recall", "size_accuracy")}
    out["object_precision"] = totals["object_precision"] / max(1, n_pred)
    out["background_accuracy"] = totals["background_accuracy"] / len(records)
    out["exact_match"] = totals["exact_match"] / len(records)
    return out


@torch.no_grad()
def evaluate(vision_model, caption_decoder, text_encoder, answer_decoder, dataset, tok, limit=None, batch=128, examples=0):
    n = len(dataset) if limit is None else min(limit, len(dataset))
    table = torch.from_numpy(normalization_table())
    embeds = []
    captions = []
    for start in range(0, n, batch):
        e = vision_model(to_pixels(dataset.images[start : min(n, start + batch)], table))
        embeds.append(e)
        if caption_decoder is not None:
            ids = greedy(caption_decoder, e, tok.bos_id, tok.sep_id, tok.pad_id, 20)
            captions += [tok.decode(row.tolist()) for row in ids]
    embeds = torch.cat(embeds)
    result = {"scenes": n}
    if caption_decoder is not None:
        result["caption"] = caption_scores(dataset.records[:n], captions)
        result["caption_examples"] = [(r["caption"], c) for r, c in zip(dataset.records[:examples], captions[:examples])]
    if text_encoder is not None:
        # Group same-length questions: a batch without padding gives exactly the single-question answers.
        groups = defaultdict(list)
        for i in range(n):
            for q in dataset.records[i]["questions"]:
                ids = tok.encode(q["question"])
                groups[len(ids)].append((i, ids, q))
        correct = defaultdict(int)
        count = defaultdict(int)
        wrong = []
        for items in groups.values():
            for start in range(0, len(items), 512):
                chunk = items[start : start + 512]
                img = embeds[torch.tensor([c[0] for c in chunk])]
                q_ids = torch.tensor([c[1] for c in chunk])
                states = text_encoder(q_ids, torch.ones_like(q_ids), img)
                out = greedy(answer_decoder, states, tok.bos_id, tok.sep_id, tok.pad_id, 20)
                for (i, _, q), row in zip(chunk, out):
                    answer = tok.decode(row.tolist())
                    count[q["type"]] += 1
                    if answer == q["answer"]:
                        correct[q["type"]] += 1
                    elif len(wrong) < examples:
                        wrong.append((i, q["question"], q["answer"], answer))
        result["vqa"] = {t: correct[t] / count[t] for t in sorted(count)}
        result["vqa_questions"] = dict(count)
        result["vqa_wrong_examples"] = wrong
    return result


def main():
    from blip_model import BlipForConditionalGeneration, BlipForQuestionAnswering
    from data import SceneSet
    from hf_config import load_configs
    from safetensors_io import read_safetensors
    from tokenizer import WordPieceTokenizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--caption", required=True, help="HF folder of the captioning checkpoint")
    parser.add_argument("--vqa", required=True, help="HF folder of the VQA checkpoint")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(2)

    def load(folder, cls):
        vision, text, _ = load_configs(os.path.join(folder, "config.json"))
        model = cls(vision, text).eval()
        model.load_state_dict({k: v.float() for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()})
        return model, vision

    cap, vision = load(args.caption, BlipForConditionalGeneration)
    vqa, _ = load(args.vqa, BlipForQuestionAnswering)
    vocab = open(os.path.join(args.caption, "vocab.txt")).read().splitlines()
    added = json.load(open(os.path.join(args.caption, "added_tokens.json")))
    tok = WordPieceTokenizer(vocab, sorted(added, key=added.get))
    data = SceneSet(args.data, vision.image_size, tok)
    r1 = evaluate(cap.vision_model, cap.text_decoder, None, None, data, tok, args.limit, examples=args.examples)
    r2 = evaluate(vqa.vision_model, None, vqa.text_encoder, vqa.text_decoder, data, tok, args.limit, examples=args.examples)
    print(json.dumps({"scenes": r1["scenes"], "caption": r1["caption"], "vqa": r2["vqa"], "vqa_questions": r2["vqa_questions"],
                      "caption_examples": r1["caption_examples"], "vqa_wrong_examples": r2["vqa_wrong_examples"]}, indent=1))


if __name__ == "__main__":
    main()
