"""A small BERT-uncased WordPiece tokenizer (what transformers' slow BertTokenizer does for
plain ASCII/Latin text): lowercase, strip accents, split on whitespace and punctuation,
greedy longest-match WordPiece with '##'; decode skips special tokens, removes ' ##' and
applies clean_up_tokenization_spaces.
"""
import unicodedata

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(ch):
    return any(lo <= ord(ch) <= hi for lo, hi in _CJK)


def _is_control(ch):
    return not ch.isspace() and unicodedata.category(ch).startswith("C")


def basic_tokens(text):
    text = "".join(ch for ch in text if ord(ch) not in (0, 0xFFFD) and not _is_control(ch))
    text = "".join(f" {ch} " if _is_cjk(ch) else (" " if ch.isspace() else ch) for ch in text)
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    tokens = []
    for word in text.split():
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    tokens.append(current)
                    current = ""
                tokens.append(ch)
            else:
                current += ch
        if current:
            tokens.append(current)
    return tokens


class WordPieceTokenizer:
    def __init__(self, vocab, added_tokens):
        """vocab: list of vocab.txt lines (id = index); added_tokens: e.g. ["[DEC]", "[ENC]"] appended after."""
        self.tokens = list(vocab) + list(added_tokens)
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.special_ids = {self.ids[t] for t in SPECIAL + list(added_tokens)}
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = (self.ids[t] for t in SPECIAL[:4])
        self.bos_id = self.ids[added_tokens[0]]

    def wordpiece(self, word):
        if len(word) > 100:
            return [self.unk_id]
        pieces, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    found = self.ids[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            pieces.append(found)
            start = end
        return pieces

    def encode_words(self, text):
        """Ids without [CLS]/[SEP]."""
        return [i for word in basic_tokens(text) for i in self.wordpiece(word)]

    def encode(self, text):
        """What BlipProcessor gives: [CLS] ... [SEP]."""
        return [self.cls_id] + self.encode_words(text) + [self.sep_id]

    def decode(self, ids):
        words = [self.tokens[i] for i in ids if i not in self.special_ids]
        text = " ".join(words).replace(" ##", "").strip()
        for a, b in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
            text = text.replace(a, b)
        return text
