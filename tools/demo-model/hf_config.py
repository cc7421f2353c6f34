"""Reading and writing the HF config.json of a BLIP checkpoint (4.36 save_pretrained style)."""
import json

from blip_model import TextConfig, VisionConfig

# BlipTextConfig / BlipVisionConfig class defaults (applied when config.json omits a key).
TEXT_DEFAULTS = dict(
    vocab_size=30524, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=8,
    max_position_embeddings=512, layer_norm_eps=1e-12, pad_token_id=0,
)
VISION_DEFAULTS = dict(
    hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, image_size=384,
    patch_size=16, layer_norm_eps=1e-5, num_channels=3,
)


def load_configs(path):
    """(VisionConfig, TextConfig, raw dict) from a config.json, with BLIP's defaulting rules."""
    with open(path) as f:
        raw = json.load(f)
    v = {**VISION_DEFAULTS, **{k: raw.get("vision_config", {})[k] for k in VISION_DEFAULTS if k in raw.get("vision_config", {})}}
    t = {**TEXT_DEFAULTS, **{k: raw.get("text_config", {})[k] for k in TEXT_DEFAULTS if k in raw.get("text_config", {})}}
    vision = VisionConfig(**v)
    # BlipConfig always overwrites the text encoder_hidden_size with the vision width.
    text = TextConfig(encoder_hidden_size=vision.hidden_size, **t)
    return vision, text, raw


def config_dict(architecture, vision, text, bos_token_id, sep_token_id, transformers_version="4.36.2"):
    """The diff-style dict save_pretrained (4.36) writes: only non-default keys, sorted."""
    text_cfg = {
        "bos_token_id": bos_token_id,
        "encoder_hidden_size": vision.hidden_size,
        "hidden_size": text.hidden_size,
        "intermediate_size": text.intermediate_size,
        "max_position_embeddings": text.max_position_embeddings,
        "model_type": "blip_text_model",
        # Written even when it equals a default: the BLIP class default (8) is a known trap.
        "num_attention_heads": text.num_attention_heads,
        "num_hidden_layers": text.num_hidden_layers,
        "sep_token_id": sep_token_id,
        "vocab_size": text.vocab_size,
    }
    vision_cfg = {
        "hidden_size": vision.hidden_size,
        "image_size": vision.image_size,
        "intermediate_size": vision.intermediate_size,
        "model_type": "blip_vision_model",
        "num_attention_heads": vision.num_attention_heads,
        "num_hidden_layers": vision.num_hidden_layers,
        "patch_size": vision.patch_size,
    }
    return {
        "architectures": [architecture],
        "image_text_hidden_size": 256,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "logit_scale_init_value": 2.6592,
        "model_type": "blip",
        "projection_dim": 512,
        "text_config": text_cfg,
        "torch_dtype": "float32",
        "transformers_version": transformers_version,
        "vision_config": vision_cfg,
    }
