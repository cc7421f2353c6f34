"""The demo model's WordPiece vocabulary: BERT's special-token layout ([PAD]=0 [UNK]=1 [CLS]=2
[SEP]=3 [MASK]=4), punctuation, the scene language (see tools/scenes/vocabulary.ts) and a few
neighbouring words, digits, single letters and '##' letters (so that any lowercase ASCII word
still tokenizes to pieces rather than [UNK]). [DEC] and [ENC] follow as added tokens, exactly
as BLIP's init_tokenizer adds them to bert-base-uncased.
"""
import string

from tokenizer import SPECIAL

PUNCTUATION = [".", ",", "?", "!", "'", "-", ":", ";", "(", ")", '"']

SCENE_WORDS = [
    # captions
    "a", "an", "the", "and", "on", "background", "small", "large",
    "circle", "square", "triangle", "star",
    "red", "green", "blue", "yellow", "orange", "purple", "white", "black", "gray",
    # questions and answers
    "what", "which", "how", "many", "where", "is", "are", "there", "of", "in", "color", "colour",
    "shape", "shapes", "object", "objects", "picture", "image", "yes", "no",
    "zero", "one", "two", "three", "four", "left", "right", "top", "bottom",
]

# Words a user may plausibly type about such pictures; their embeddings stay near their init.
NEIGHBOUR_WORDS = [
    "grey", "big", "little", "tiny", "size", "kind", "type", "it", "this", "that", "these", "those", "with",
    "any", "do", "does", "you", "see", "can", "has", "have", "number", "count", "side", "corner", "middle",
    "center", "centre", "photo", "circles", "squares", "triangles", "stars", "pink", "brown",
]

ADDED_TOKENS = ["[DEC]", "[ENC]"]


def build_vocab():
    words = []
    for w in SCENE_WORDS + NEIGHBOUR_WORDS + list("0123456789") + list(string.ascii_lowercase):
        if w not in words:
            words.append(w)
    suffixes = ["##s"] + [f"##{c}" for c in string.ascii_lowercase if c != "s"]
    return SPECIAL + PUNCTUATION + words + suffixes
