"""Greedy decoding with transformers' generate() semantics for BLIP (no prompt):
start from [DEC], append argmax of the last position, stop a row at [SEP], pad finished rows
with [PAD], stop at max_length total tokens (the [DEC] included). No KV cache: the result is
identical, just slower, and these models are tiny.
"""
import torch


@torch.no_grad()
def greedy(decoder, encoder_states, bos_id, sep_id, pad_id, max_length=20, encoder_attention_mask=None):
    b = encoder_states.shape[0]
    ids = torch.full((b, 1), bos_id, dtype=torch.long)
    finished = torch.zeros(b, dtype=torch.bool)
    while ids.shape[1] < max_length and not bool(finished.all()):
        logits = decoder(ids, encoder_states, encoder_attention_mask=encoder_attention_mask)[:, -1, :]
        nxt = logits.argmax(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, pad_id), nxt)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        finished |= nxt == sep_id
    return ids


@torch.no_grad()
def caption_ids(model, pixel_values, bos_id, sep_id, pad_id, max_length=20):
    image_embeds = model.vision_model(pixel_values)
    return greedy(model.text_decoder, image_embeds, bos_id, sep_id, pad_id, max_length)


@torch.no_grad()
def answer_ids(model, pixel_values, input_ids, attention_mask, bos_id, sep_id, pad_id, max_length=20):
    """BlipForQuestionAnswering.generate: the answer decoder sees ALL question states (all-ones mask)."""
    image_embeds = model.vision_model(pixel_values)
    question = model.text_encoder(input_ids, attention_mask, image_embeds)
    return greedy(model.text_decoder, question, bos_id, sep_id, pad_id, max_length)
