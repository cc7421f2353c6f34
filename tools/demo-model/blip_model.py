"""BLIP as transformers 4.36 implements it, written from the architecture description, with
exactly transformers' parameter names so that `state_dict()` is a loadable HF checkpoint.

Vision: ViT with pre-LN blocks and a final post_layernorm (BlipVisionModel).
Text: BERT-style post-LN layers with self-attention, cross-attention and FFN (BlipTextModel),
plus an LM head whose transform has its own LayerNorm and whose output bias is the separate
`cls.predictions.bias` (BlipTextLMHeadModel). Every text layer owns a cross-attention block
because BLIP's text config has is_decoder=True, also for the VQA question encoder.
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# transformers builds additive self-attention masks with -10000 (get_extended_attention_mask).
SELF_MASK_VALUE = -10000.0


@dataclass
class VisionConfig:
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    image_size: int
    patch_size: int
    layer_norm_eps: float = 1e-5
    num_channels: int = 3


@dataclass
class TextConfig:
    vocab_size: int
    hidden_size: int
    encoder_hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    max_position_embeddings: int
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0


# ----------------------------------------------------------------------------- vision


class VisionEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        num_positions = (cfg.image_size // cfg.patch_size) ** 2 + 1
        self.class_embedding = nn.Parameter(torch.zeros(1, 1, cfg.hidden_size))
        self.patch_embedding = nn.Conv2d(cfg.num_channels, cfg.hidden_size, cfg.patch_size, cfg.patch_size)
        self.position_embedding = nn.Parameter(torch.zeros(1, num_positions, cfg.hidden_size))

    def forward(self, pixel_values):
        patches = self.patch_embedding(pixel_values).flatten(2).transpose(1, 2)
        cls = self.class_embedding.expand(patches.shape[0], 1, -1)
        x = torch.cat([cls, patches], dim=1)
        return x + self.position_embedding[:, : x.shape[1], :]


class VisionAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.projection = nn.Linear(cfg.hidden_size, cfg.hidden_size)

    def forward(self, x):
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        # Scale after the product, as BlipAttention does (matters only at the last ulp).
        probs = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, n, d)
        return self.projection(ctx)


class VisionMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class VisionLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = VisionAttention(cfg)
        self.layer_norm1 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp = VisionMLP(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class VisionEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([VisionLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class VisionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = VisionEmbeddings(cfg)
        self.encoder = VisionEncoder(cfg)
        self.post_layernorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, pixel_values):
        """Returns last_hidden_state (post-LayerNorm, all tokens) = the image_embeds BLIP feeds to text."""
        return self.post_layernorm(self.encoder(self.embeddings(pixel_values)))


# ----------------------------------------------------------------------------- text


class TextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size, padding_idx=cfg.pad_token_id)
        self.position_embeddings = nn.Embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(positions)[None])


class TextSelfAttention(nn.Module):
    def __init__(self, cfg, is_cross_attention):
        super().__init__()
        self.num_heads = cfg.num_attention_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        kv_width = cfg.encoder_hidden_size if is_cross_attention else cfg.hidden_size
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(kv_width, cfg.hidden_size)
        self.value = nn.Linear(kv_width, cfg.hidden_size)
        self.keep_probs = False
        self.probs = None

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask, kv_states=None, kv_index=None):
        source = x if kv_states is None else kv_states
        q, k, v = self._heads(self.query(x)), self._heads(self.key(source)), self._heads(self.value(source))
        if kv_index is not None:
            # Training shortcut: several questions read the same image; project each image once, then gather.
            k, v = k[kv_index], v[kv_index]
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if additive_mask is not None:
            scores = scores + additive_mask
        probs = torch.softmax(scores, dim=-1)
        if self.keep_probs:
            # Training only: train.py supervises where some tokens look in the image.
            self.probs = probs
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3)
        return ctx.reshape(ctx.shape[0], ctx.shape[1], -1)


class TextSelfOutput(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dense(hidden) + residual)


class TextAttention(nn.Module):
    def __init__(self, cfg, is_cross_attention=False):
        super().__init__()
        self.self = TextSelfAttention(cfg, is_cross_attention)
        self.output = TextSelfOutput(cfg)

    def forward(self, x, additive_mask, kv_states=None, kv_index=None):
        return self.output(self.self(x, additive_mask, kv_states, kv_index), x)


class TextIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))


class TextOutput(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dense(hidden) + residual)


class TextLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = TextAttention(cfg)
        self.crossattention = TextAttention(cfg, is_cross_attention=True)
        self.intermediate = TextIntermediate(cfg)
        self.output = TextOutput(cfg)

    def forward(self, x, self_mask, encoder_states, cross_mask, kv_index=None):
        x = self.attention(x, self_mask)
        x = self.crossattention(x, cross_mask, encoder_states, kv_index)
        return self.output(self.intermediate(x), x)


class TextEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([TextLayer(cfg) for _ in range(cfg.num_hidden_layers)])

    def forward(self, x, self_mask, encoder_states, cross_mask, kv_index=None):
        for layer in self.layer:
            x = layer(x, self_mask, encoder_states, cross_mask, kv_index)
        return x


def self_attention_mask(attention_mask, causal, dtype):
    """Additive mask [B, 1, S|1, S]: padding (and, for the decoder, the future) gets -10000."""
    b, s = attention_mask.shape
    allowed = attention_mask[:, None, None, :].to(dtype)
    if causal:
        idx = torch.arange(s, device=attention_mask.device)
        allowed = allowed * (idx[None, :] <= idx[:, None]).to(dtype)[None, None]
    return (1.0 - allowed) * SELF_MASK_VALUE


def cross_attention_mask(encoder_attention_mask, dtype):
    """Additive mask [B, 1, 1, M] as invert_attention_mask builds it; None means all ones (zero mask)."""
    if encoder_attention_mask is None:
        return None
    return (1.0 - encoder_attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


class TextModel(nn.Module):
    """BlipTextModel without pooler: embeddings + post-LN layers with cross-attention."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = TextEmbeddings(cfg)
        self.encoder = TextEncoder(cfg)

    def forward(self, input_ids, attention_mask, encoder_hidden_states, encoder_attention_mask=None, is_decoder=False, kv_index=None):
        """kv_index (training only): row i reads encoder_hidden_states[kv_index[i]]."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        x = self.embeddings(input_ids)
        self_mask = self_attention_mask(attention_mask, is_decoder, x.dtype)
        cross_mask = cross_attention_mask(encoder_attention_mask, x.dtype)
        return self.encoder(x, self_mask, encoder_hidden_states, cross_mask, kv_index)


class PredictionHeadTransform(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.LayerNorm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x):
        return self.LayerNorm(F.gelu(self.dense(x)))


class LMPredictionHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transform = PredictionHeadTransform(cfg)
        # The output bias is its own parameter (`cls.predictions.bias`); HF saves no decoder.bias.
        self.decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, x):
        return self.decoder(self.transform(x)) + self.bias


class OnlyMLMHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.predictions = LMPredictionHead(cfg)

    def forward(self, x):
        return self.predictions(x)


class TextLMHeadModel(nn.Module):
    """BlipTextLMHeadModel: causal text decoder + LM head."""

    def __init__(self, cfg):
        super().__init__()
        self.bert = TextModel(cfg)
        self.cls = OnlyMLMHead(cfg)

    def forward(self, input_ids, encoder_hidden_states, attention_mask=None, encoder_attention_mask=None):
        hidden = self.bert(input_ids, attention_mask, encoder_hidden_states, encoder_attention_mask, is_decoder=True)
        return self.cls(hidden)


# ----------------------------------------------------------------------------- top-level models


class BlipForConditionalGeneration(nn.Module):
    def __init__(self, vision_cfg, text_cfg):
        super().__init__()
        self.vision_model = VisionModel(vision_cfg)
        self.text_decoder = TextLMHeadModel(text_cfg)


class BlipForQuestionAnswering(nn.Module):
    def __init__(self, vision_cfg, text_cfg):
        super().__init__()
        self.vision_model = VisionModel(vision_cfg)
        self.text_encoder = TextModel(text_cfg)
        self.text_decoder = TextLMHeadModel(text_cfg)


def init_weights(module, std=0.02):
    """Close to transformers' _init_weights: normal(0, std) linears/embeddings, LayerNorm 1/0."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=std)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, VisionEmbeddings):
            nn.init.normal_(m.class_embedding, std=std)
            nn.init.normal_(m.position_embedding, std=std)
