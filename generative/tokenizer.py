"""Tokens of a SLICES string: element symbols, atom indices, one 27-way image token per edge, and specials.

Why one image token per edge instead of three sign tokens: every edge is then exactly ``i j image`` (three tokens,
so sequences are 40% shorter than the five-token form), and every grammar rule that concerns the image (no bare
self-loop, no duplicate bond, "this bond must raise the periodic rank") is a condition on the whole vector. With a
single token the sampler can mask exactly the valid vectors; with three sign tokens it would need look-ahead.
"""

from __future__ import annotations

from itertools import product

from generative.errors import GenerativeError
from periodicnet.elements import ELEMENTS
from slices.graph import VALUE_OF

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
IMAGE_LABELS = tuple("".join(p) for p in product("-o+", repeat=3))  # 27 labels, '---' .. '+++'
IMAGE_VECTORS = tuple(tuple(VALUE_OF[c] for c in label) for label in IMAGE_LABELS)


class Tokenizer:
    """Maps SLICES strings (three-token edge form) to integer ids and back.

    The vocabulary is laid out in blocks: specials, element symbols, atom indices ``0 .. max_atoms-1``, image labels.
    """

    def __init__(self, max_atoms: int = 20):
        if not isinstance(max_atoms, int) or not 1 <= max_atoms <= 1000:
            raise GenerativeError(f"max_atoms must be an integer in 1..1000, got {max_atoms!r}")
        self.max_atoms = max_atoms
        self.tokens: list[str] = [*SPECIALS, *ELEMENTS, *(str(k) for k in range(max_atoms)), *IMAGE_LABELS]
        self.index = {t: k for k, t in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id = (self.index[t] for t in SPECIALS)
        self.element_start = len(SPECIALS)
        self.index_start = self.element_start + len(ELEMENTS)
        self.image_start = self.index_start + max_atoms

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def n_elements(self) -> int:
        return len(ELEMENTS)

    def encode(self, string: str) -> list[int]:
        """Ids of ``string``'s tokens (no BOS/EOS). Raises GenerativeError on a token outside the vocabulary."""
        if not isinstance(string, str):
            raise GenerativeError(f"expected a SLICES string, got {type(string).__name__}")
        words = string.split()
        if not words:
            raise GenerativeError("empty SLICES string")
        ids = []
        n_atoms = 0
        while n_atoms < len(words) and not words[n_atoms].isdigit():
            ids.append(self._id(words[n_atoms], n_atoms, "element symbol"))
            n_atoms += 1
        if n_atoms > self.max_atoms:
            raise GenerativeError(f"{n_atoms} atoms exceeds this vocabulary's limit of {self.max_atoms}")
        rest = words[n_atoms:]
        if len(rest) % 3:
            raise GenerativeError("the edge block is not 'i j xyz' triples (the five-token form is not tokenised)")
        for k, word in enumerate(rest):
            pos = n_atoms + k
            if k % 3 < 2:
                if not word.isdigit() or int(word) >= n_atoms:
                    raise GenerativeError(f"token {pos} ({word!r}) is not an atom index below {n_atoms}")
                ids.append(self._id(str(int(word)), pos, "atom index"))
            else:
                ids.append(self._id(word, pos, "image label"))
        return ids

    def _id(self, word: str, pos: int, kind: str) -> int:
        kid = self.index.get(word)
        block = {
            "element symbol": (self.element_start, self.index_start),
            "atom index": (self.index_start, self.image_start),
            "image label": (self.image_start, len(self.tokens)),
        }[kind]
        if kid is None or not block[0] <= kid < block[1]:
            raise GenerativeError(f"token {pos} ({word!r}) is not a valid {kind}")
        return kid

    def decode(self, ids) -> str:
        """The string for a sequence of ids; specials are dropped and decoding stops at EOS."""
        words = []
        for k in ids:
            k = int(k)
            if k == self.eos_id:
                break
            if k in (self.pad_id, self.bos_id):
                continue
            words.append(self.tokens[k])
        return " ".join(words)

    def to_dict(self) -> dict:
        """The vocabulary as plain data, stored inside the model checkpoint."""
        return {"max_atoms": self.max_atoms, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict) -> "Tokenizer":
        """Rebuild a tokenizer from :meth:`to_dict` output, checking that the stored vocabulary matches."""
        try:
            tok = cls(int(data["max_atoms"]))
            stored = list(data["tokens"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GenerativeError(f"the checkpoint's vocabulary is unreadable: {exc}") from None
        if stored != tok.tokens:
            raise GenerativeError("the checkpoint's vocabulary differs from this version's token layout")
        return tok
