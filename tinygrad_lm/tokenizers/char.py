"""Character tokens: one id per distinct character of the training text."""

from __future__ import annotations

from .base import FORMAT_VERSION, Tokenizer, _check_text, _id_list


class CharTokenizer(Tokenizer):
    """One token per distinct character of the training text. The vocabulary is sorted, so the
    same text always gives the same ids."""

    TYPE = "char"

    def __init__(self, chars, unk: str | None = None):
        self.chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer: every vocabulary entry must be one character")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharTokenizer: the vocabulary lists a character twice")
        if unk is not None and unk not in self.chars:
            raise ValueError(f"CharTokenizer: unk={unk!r} is not in the vocabulary")
        self.unk = unk
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str, unk: str | None = None) -> CharTokenizer:
        """Vocabulary = the sorted distinct characters of `text`. With unk="?" (any single
        character), characters never seen in `text` encode to that token instead of raising."""
        _check_text(text, "CharTokenizer.from_text")
        if unk is not None and (not isinstance(unk, str) or len(unk) != 1):
            raise ValueError(f"CharTokenizer.from_text: unk must be a single character such as "
                             f"'?', got {unk!r}")
        chars = set(text) | ({unk} if unk is not None else set())
        if not chars:
            raise ValueError("CharTokenizer.from_text: the text is empty, so there is no "
                             "vocabulary to build")
        return cls(sorted(chars), unk)

    @property
    def vocab_size(self) -> int:
        """The number of distinct characters (token ids are 0 .. vocab_size - 1)."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """The id of each character of `text`; a character outside the vocabulary is the `unk`
        character's id when there is one, else a ValueError naming it.
        """
        _check_text(text, "CharTokenizer.encode")
        stoi = self.stoi
        if self.unk is not None:
            unk_id = stoi[self.unk]
            return [stoi.get(c, unk_id) for c in text]
        try:
            return [stoi[c] for c in text]
        except KeyError:
            raise self._unknown_error(text) from None

    def _unknown_error(self, text: str) -> ValueError:
        first = {}  # each unknown character -> where it first occurs
        for i, c in enumerate(text):
            if c not in self.stoi and c not in first:
                first[c] = i
        shown = ", ".join(f"{c!r} at position {i}" for c, i in list(first.items())[:5])
        more = f" and {len(first) - 5} more" if len(first) > 5 else ""
        return ValueError(f"CharTokenizer.encode: {len(first)} character(s) not in the "
                          f"vocabulary: {shown}{more}. Build the tokenizer from text that "
                          "contains them, or use CharTokenizer.from_text(text, unk='?') to map "
                          "unknown characters to one token")

    def decode(self, ids) -> str:
        """The characters of `ids` joined; an id out of range is an IndexError."""
        chars, n = self.chars, len(self.chars)
        out = []
        for i in _id_list(ids, "CharTokenizer"):
            if not 0 <= i < n:
                raise IndexError(f"CharTokenizer.decode: id {i} is out of range for vocab size "
                                 f"{n} (valid ids are 0..{n - 1})")
            out.append(chars[i])
        return "".join(out)

    def to_dict(self) -> dict:
        """The tokenizer as JSON-safe data for checkpoints; `tokenizer_from_dict` reads it back."""
        return {"type": self.TYPE, "version": FORMAT_VERSION, "chars": self.chars,
                "unk": self.unk}
