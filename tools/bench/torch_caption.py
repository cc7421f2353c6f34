"""The PyTorch side-by-side of `npm run bench -- --torch` (issue 12 item 7): milliseconds per caption of one image
with the demo model's PyTorch BLIP (tools/demo-model/blip_model.py, transformers 4.36's exact structure) on a real
config with random weights, decoded greedily the way transformers 4.36 generates:
  - the vision encoder once per image;
  - text decoder steps of one new token each with the self-attention K/V cache on (past_key_values);
  - cross-attention K and V recomputed from the image embeddings at every step (BlipTextSelfAttention projects
    encoder_hidden_states on every call; its cache holds self-attention only).
The cached step below reuses the model's own modules; blip_model.py itself has no cache (training needs none) and is
not changed. `--check` compares the cached greedy tokens with full recomputation (the uncached forward) first.

Run with Debian's interpreter and 2 threads: /usr/bin/python3 tools/bench/torch_caption.py --config FILE
Prints one JSON object on stdout.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "demo-model"))

from blip_model import BlipForConditionalGeneration, init_weights  # noqa: E402
from hf_config import load_configs  # noqa: E402


def attend(q, k, v, head_dim):
    probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_dim), dim=-1)
    ctx = torch.matmul(probs, v).permute(0, 2, 1, 3)
    return ctx.reshape(ctx.shape[0], ctx.shape[1], -1)


def cached_step(decoder, token_ids, position, image_embeds, cache):
    """Logits of the last new token; `cache` (one (K, V) per layer, or None) is extended in place."""
    bert = decoder.bert
    emb = bert.embeddings
    positions = torch.arange(position, position + token_ids.shape[1])
    x = emb.LayerNorm(emb.word_embeddings(token_ids) + emb.position_embeddings(positions)[None])
    for i, layer in enumerate(bert.encoder.layer):
        sa = layer.attention.self
        q, k, v = sa._heads(sa.query(x)), sa._heads(sa.key(x)), sa._heads(sa.value(x))
        if cache[i] is not None:
            k = torch.cat([cache[i][0], k], dim=2)
            v = torch.cat([cache[i][1], v], dim=2)
        cache[i] = (k, v)
        # One new token per step attends to every cached one: the causal mask is all zeros here.
        x = layer.attention.output(attend(q, k, v, sa.head_dim), x)
        ca = layer.crossattention.self
        # transformers 4.36: cross K/V projected from the image embeddings again at every step.
        ck, cv = ca._heads(ca.key(image_embeds)), ca._heads(ca.value(image_embeds))
        x = layer.crossattention.output(attend(ca._heads(ca.query(x)), ck, cv, ca.head_dim), x)
        x = layer.output(layer.intermediate(x), x)
    return decoder.cls(x[:, -1:, :])[:, -1, :]


def caption(model, pixels, bos, length):
    """Greedy ids of `length` tokens counting [DEC] (min = max length, as the bench forces), with the cache."""
    image_embeds = model.vision_model(pixels)
    cache = [None] * len(model.text_decoder.bert.encoder.layer)
    ids = [bos]
    logits = cached_step(model.text_decoder, torch.tensor([[bos]]), 0, image_embeds, cache)
    while len(ids) < length:
        ids.append(int(torch.argmax(logits, dim=-1)))
        if len(ids) < length:
            logits = cached_step(model.text_decoder, torch.tensor([[ids[-1]]]), len(ids) - 1, image_embeds, cache)
    return ids


def caption_uncached(model, pixels, bos, length):
    image_embeds = model.vision_model(pixels)
    ids = [bos]
    while len(ids) < length:
        logits = model.text_decoder(torch.tensor([ids]), image_embeds)
        ids.append(int(torch.argmax(logits[0, -1])))
    return ids


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vision_cfg, text_cfg, raw = load_configs(args.config)
    model = BlipForConditionalGeneration(vision_cfg, text_cfg)
    init_weights(model)
    model.eval()
    bos = raw.get("text_config", {}).get("bos_token_id", 30522)
    size = vision_cfg.image_size
    images = [torch.randn(1, 3, size, size) for _ in range(args.runs + 1)]
    with torch.inference_mode():
        checked = None
        if args.check:
            cached, full = caption(model, images[0], bos, args.tokens), caption_uncached(model, images[0], bos, args.tokens)
            if cached != full:
                raise SystemExit(f"the cached decode disagrees with full recomputation: {cached} vs {full}")
            checked = True
        caption(model, images[0], bos, args.tokens)  # warm-up
        totals, visions = [], []
        for pixels in images[1:]:
            t0 = time.perf_counter()
            model.vision_model(pixels)
            visions.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            ids = caption(model, pixels, bos, args.tokens)
            totals.append((time.perf_counter() - t0) * 1000)
            assert len(ids) == args.tokens
    print(json.dumps({
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "tokens": args.tokens,
        "runs": args.runs,
        "caption_ms": totals,
        "vision_ms": visions,
        "median_caption_ms": statistics.median(totals),
        "median_vision_ms": statistics.median(visions),
        "cache_checked": checked,
    }))


if __name__ == "__main__":
    main()
