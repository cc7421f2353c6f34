"""Trains the demo BLIP on scene datasets (tools/scenes/cli.ts): one shared vision encoder,
a caption decoder, and a VQA question encoder + answer decoder, all in one loop (each step
runs the vision encoder once and uses it for both tasks). export.py then writes the two HF
checkpoints, each with its own copy of the shared vision weights.

Inputs match what HF generate() feeds at inference:
  caption decoder: [DEC] w1 .. wn [SEP] (no prompt), loss on w1 .. [SEP];
  question encoder: [CLS] q [SEP] (HF keeps [CLS]), bidirectional, padding masked, image cross-attention;
  answer decoder: [DEC] a [SEP] cross-attending to the question states. HF generate passes an
  all-ones mask over the question, i.e. it also reads the padding of batched questions; half
  the batches train that way and half with the real mask (= an unpadded single question), so
  the model answers the same either way.

    nice -n 10 /usr/bin/python3 tools/demo-model/train.py --data /tmp/demo-data/train \
        --heldout /tmp/demo-data/heldout --out /tmp/demo-train --minutes 40
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment_batch  # noqa: E402
from blip_model import TextConfig, TextLMHeadModel, TextModel, VisionConfig, VisionModel, init_weights  # noqa: E402
from data import SceneSet, pad, patch_labels  # noqa: E402
from evaluate import evaluate, to_pixels  # noqa: E402
from preprocess import normalization_table  # noqa: E402
from tokenizer import WordPieceTokenizer  # noqa: E402
from vocab import ADDED_TOKENS, build_vocab  # noqa: E402

QUESTION_TYPES = ("color", "shape", "count", "exists", "position")


class DemoBlip(nn.Module):
    def __init__(self, vision_cfg, text_cfg):
        super().__init__()
        self.vision_model = VisionModel(vision_cfg)
        self.caption_decoder = TextLMHeadModel(text_cfg)
        self.text_encoder = TextModel(text_cfg)
        self.answer_decoder = TextLMHeadModel(text_cfg)
        # Training-only head (not exported): per-patch object kind / colour / size. Dense labels teach
        # the ViT local shape identity far faster than the text losses alone (run 2 stalled without it).
        self.aux = nn.Linear(vision_cfg.hidden_size, 5 + 9 + 3)


def build_configs(args, vocab_size):
    vision = VisionConfig(
        hidden_size=args.hidden, intermediate_size=args.vision_ffn, num_hidden_layers=args.vision_layers,
        num_attention_heads=args.heads, image_size=args.image_size, patch_size=args.patch,
    )
    # The VQA answer decoder's cross-attention reads question states through weights sized by
    # encoder_hidden_size (= vision width in BlipConfig), so text and vision widths must match.
    text = TextConfig(
        vocab_size=vocab_size, hidden_size=args.hidden, encoder_hidden_size=args.hidden,
        intermediate_size=args.text_ffn, num_hidden_layers=args.text_layers, num_attention_heads=args.heads,
        max_position_embeddings=args.max_positions,
    )
    return vision, text


def lm_loss(logits, targets, mask):
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    mask = mask.reshape(-1).float()
    return (loss * mask).sum() / mask.sum()


KINDS = ("circle", "square", "triangle", "star")
COLORS = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black")


def pointer_targets(seqs, owners, records, tok, caption):
    """(row, token position, label channel, label value) for tokens whose cross-attention should
    land on one object: in captions the 'a', size and colour inputs of each object phrase; in
    questions the word naming the object asked about (shape word, else colour word)."""
    kind_ids = {tok.ids[k]: (0, i + 1) for i, k in enumerate(KINDS)}
    color_ids = {tok.ids[c]: (1, i + 1) for i, c in enumerate(COLORS)}
    out = []
    for row, (seq, owner) in enumerate(zip(seqs, owners)):
        shapes = records[owner]["spec"]["shapes"]
        if caption:
            present = {color_ids[tok.ids[s["color"]]][1] for s in shapes}
            for t, token in enumerate(seq):
                # The background's colour word has no object to point at.
                if token in color_ids and t >= 2 and color_ids[token][1] in present:
                    out += [(row, u, *color_ids[token]) for u in (t - 2, t - 1, t)]
            continue
        present_kinds = {s["shape"] for s in shapes}
        present_colors = {s["color"] for s in shapes}
        hit = next(((t, kind_ids[x]) for t, x in enumerate(seq) if x in kind_ids), None)
        if hit is not None and KINDS[hit[1][1] - 1] not in present_kinds:
            continue
        if hit is None:
            hit = next(((t, color_ids[x]) for t, x in enumerate(seq) if x in color_ids), None)
            if hit is None or COLORS[hit[1][1] - 1] not in present_colors:
                continue
        out.append((row, hit[0], *hit[1]))
    return out


def pointer_loss(probs, targets, patches, owners):
    """-log(attention mass, averaged over heads, on the target object's patches)."""
    if not targets:
        return probs.sum() * 0.0
    rows = torch.tensor([t[0] for t in targets])
    pos = torch.tensor([t[1] for t in targets])
    chan = torch.tensor([t[2] for t in targets])
    val = torch.tensor([t[3] for t in targets])
    labels = patches[torch.as_tensor(owners)[rows]]  # [n, P, 3]
    mask = (labels[torch.arange(len(targets)), :, chan] == val[:, None]).float()
    keep = mask.sum(-1) > 0
    p = probs.mean(1)[rows, pos, 1:]
    mass = (p * mask).sum(-1)
    return -(torch.log(mass[keep] + 1e-6)).mean() if bool(keep.any()) else probs.sum() * 0.0


def make_batch(data, rng, batch, questions_per_image, pad_id):
    idx = rng.integers(0, len(data), size=batch)
    cap_ids, cap_mask = pad([data.captions[i] for i in idx], pad_id)
    q_img, q_seqs, a_seqs = [], [], []
    for b, i in enumerate(idx):
        per_type = data.questions[i]
        for _ in range(questions_per_image):
            qtype = QUESTION_TYPES[rng.integers(0, len(QUESTION_TYPES))]
            q, a = per_type[qtype][rng.integers(0, len(per_type[qtype]))]
            q_img.append(b)
            q_seqs.append(q)
            a_seqs.append(a)
    q_ids, q_mask = pad(q_seqs, pad_id)
    a_ids, a_mask = pad(a_seqs, pad_id)
    t = torch.from_numpy
    return idx, t(cap_ids), t(cap_mask), torch.tensor(q_img), t(q_ids), t(q_mask), t(a_ids), t(a_mask)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=40.0, help="wall-clock budget; the LR schedule follows it")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--vision-layers", type=int, default=4)
    p.add_argument("--vision-ffn", type=int, default=512)
    p.add_argument("--text-layers", type=int, default=2)
    p.add_argument("--text-ffn", type=int, default=256)
    p.add_argument("--max-positions", type=int, default=64)
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--questions-per-image", type=int, default=2)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=300)
    p.add_argument("--eval-every", type=float, default=5.0, help="minutes between held-out evaluations/checkpoints")
    p.add_argument("--eval-limit", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--aux-weight", type=float, default=1.0, help="weight of the per-patch auxiliary loss")
    p.add_argument("--augment-pixels", type=float, default=0.0, help="share of training images given zoom/shift/blur/noise/JPEG (augment.py)")
    p.add_argument("--keep-every", action="store_true", help="keep a numbered copy of every periodic checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--benchmark", type=int, default=0, help="only time this many steps")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "train.log"), "a")

    def say(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()

    tok = WordPieceTokenizer(build_vocab(), ADDED_TOKENS)
    vision_cfg, text_cfg = build_configs(args, len(tok.tokens))
    t0 = time.time()
    train = SceneSet(args.data, args.image_size, tok)
    heldout = SceneSet(args.heldout, args.image_size, tok)
    grid = args.image_size // args.patch
    train_patches = torch.from_numpy(patch_labels(train.records, grid))
    say(f"data: {len(train)} train scenes, {len(heldout)} held-out scenes, loaded in {time.time() - t0:.0f} s")

    model = DemoBlip(vision_cfg, text_cfg)
    init_weights(model)
    n_params = sum(p.numel() for p in model.parameters())
    say(f"config: {json.dumps(vars(args))}; vocab {len(tok.tokens)}; parameters {n_params}")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    table = torch.from_numpy(normalization_table())

    ckpt_path = os.path.join(args.out, "checkpoint.pt")
    step, elapsed_before = 0, 0.0
    resume_step = 0
    if os.path.exists(ckpt_path) and not args.benchmark:
        state = torch.load(ckpt_path)
        missing, unexpected = model.load_state_dict(state["model"], strict=False)
        if unexpected or any(not k.startswith("aux.") for k in missing):
            raise SystemExit(f"checkpoint does not fit: missing {missing}, unexpected {unexpected}")
        step, elapsed_before = state["step"], state["elapsed"]
        if missing or state["optimizer"] is None:
            # New training-only parameters, or weights reshaped by resize_patches.py: a fresh optimizer, warmed up again.
            resume_step = step
            say(f"resumed weights from step {step} with new {missing}; fresh optimizer")
        else:
            opt.load_state_dict(state["optimizer"])
            say(f"resumed from step {step} ({elapsed_before / 60:.1f} min)")

    budget = args.minutes * 60
    start = time.time() - elapsed_before
    next_eval = (math.floor(elapsed_before / (args.eval_every * 60)) + 1) * args.eval_every * 60
    ema = None
    model.train()
    # Layer-0 cross-attention of the caption decoder and of the question encoder, supervised by pointer_loss.
    cap_attn = model.caption_decoder.bert.encoder.layer[0].crossattention.self
    q_attn = model.text_encoder.encoder.layer[0].crossattention.self
    a_attn = model.answer_decoder.bert.encoder.layer[0].crossattention.self
    cap_attn.keep_probs = q_attn.keep_probs = a_attn.keep_probs = True
    while True:
        elapsed = time.time() - start
        if (args.benchmark and step >= args.benchmark) or (not args.benchmark and elapsed >= budget):
            break
        progress = min(1.0, elapsed / budget)
        lr = args.lr * min(1.0, (step - resume_step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx, cap_ids, cap_mask, q_img, q_ids, q_mask, a_ids, a_mask = make_batch(train, rng, args.batch, args.questions_per_image, tok.pad_id)
        images = train.images[idx]
        if args.augment_pixels > 0:
            images = augment_batch(images, rng, args.augment_pixels)
        image_embeds = model.vision_model(to_pixels(images, table))
        logits = model.caption_decoder(cap_ids[:, :-1], image_embeds, attention_mask=cap_mask[:, :-1])
        loss_caption = lm_loss(logits, cap_ids[:, 1:], cap_mask[:, 1:])
        question = model.text_encoder(q_ids, q_mask, image_embeds, kv_index=q_img)
        cross_mask = q_mask if rng.random() < 0.5 else None
        logits = model.answer_decoder(a_ids[:, :-1], question, attention_mask=a_mask[:, :-1], encoder_attention_mask=cross_mask)
        loss_answer = lm_loss(logits, a_ids[:, 1:], a_mask[:, 1:])
        aux = model.aux(image_embeds[:, 1:])
        target = train_patches[idx]
        kind, colour, size = torch.split(aux, [5, 9, 3], dim=-1)
        fg = target[..., 1] > 0
        # Kind and size are scored on object patches only: averaged over all patches, the easy
        # background dominated and the ViT never learned shape identity (kind accuracy stayed at chance).
        loss_aux = (2 * F.cross_entropy(kind[fg], target[..., 0][fg]) + F.cross_entropy(colour.reshape(-1, 9), target[..., 1].reshape(-1))
                    + F.cross_entropy(size[fg], target[..., 2][fg])) / 3
        cap_targets = pointer_targets([c[:-1] for c in cap_ids.tolist()], idx.tolist(), train.records, tok, caption=True)
        q_targets = pointer_targets(q_ids.tolist(), idx[q_img.numpy()].tolist(), train.records, tok, caption=False)
        loss_pointer = (pointer_loss(cap_attn.probs, cap_targets, train_patches, idx.tolist())
                        + pointer_loss(q_attn.probs, q_targets, train_patches, idx[q_img.numpy()].tolist())) / 2
        if q_targets:
            # The answer decoder's first step should read the question token that found the object.
            rows = torch.tensor([x[0] for x in q_targets])
            pos = torch.tensor([x[1] for x in q_targets])
            loss_pointer = loss_pointer + (-torch.log(a_attn.probs.mean(1)[rows, 0, pos] + 1e-6).mean()) / 2
        loss = loss_caption + loss_answer + args.aux_weight * (loss_aux + loss_pointer)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        cur = (loss_caption.item(), loss_answer.item(), loss_aux.item(), loss_pointer.item())
        ema = cur if ema is None else tuple(0.98 * e + 0.02 * c for e, c in zip(ema, cur))
        if step % 50 == 0:
            say(f"step {step} {elapsed / 60:.1f} min lr {lr:.2e} loss caption {ema[0]:.4f} answer {ema[1]:.4f} patches {ema[2]:.4f} pointer {ema[3]:.4f} ({step * args.batch / max(elapsed, 1e-9):.1f} img/s)")
        if args.benchmark:
            continue
        if elapsed >= next_eval or time.time() - start >= budget:
            next_eval += args.eval_every * 60
            save(model, opt, step, time.time() - start, vision_cfg, text_cfg, args, ckpt_path)
            model.eval()
            cap_attn.keep_probs = q_attn.keep_probs = a_attn.keep_probs = False
            r = evaluate(model.vision_model, model.caption_decoder, model.text_encoder, model.answer_decoder, heldout, tok, args.eval_limit)
            cap_attn.keep_probs = q_attn.keep_probs = a_attn.keep_probs = True
            model.train()
            if args.keep_every:
                # Numbered copies, so a later ONNX evaluation can pick any point of the curve.
                shutil.copyfile(ckpt_path, os.path.join(args.out, f"checkpoint-{round(elapsed / 60):03d}min.pt"))
            say(f"eval step {step} {elapsed / 60:.1f} min: vqa {json.dumps({k: round(v, 4) for k, v in r['vqa'].items()})} caption {json.dumps({k: round(v, 4) for k, v in r['caption'].items()})}")
    if args.benchmark:
        say(f"benchmark: {step} steps in {time.time() - start:.1f} s")
        return
    save(model, opt, step, time.time() - start, vision_cfg, text_cfg, args, ckpt_path)
    model.eval()
    r = evaluate(model.vision_model, model.caption_decoder, model.text_encoder, model.answer_decoder, heldout, tok, None)
    say(f"final eval step {step} ({(time.time() - start) / 60:.1f} min) on {r['scenes']} scenes: vqa {json.dumps(r['vqa'])} caption {json.dumps(r['caption'])}")


def save(model, opt, step, elapsed, vision_cfg, text_cfg, args, path):
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "elapsed": elapsed,
             "vision_config": vars(vision_cfg), "text_config": vars(text_cfg), "args": vars(args)}
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
