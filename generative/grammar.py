"""Incremental grammar of SLICES strings: which next tokens keep a partial string completable to a valid 3D net.

A :class:`GrammarState` follows one sample token by token. It tracks the atoms, the bonds already written (to forbid
duplicates), a union-find of the quotient graph with each atom's cell offset in its component's spanning tree, and a
basis of the cycle translations (the periodic rank, 3 for a 3D net). This is the incremental version of
:func:`slices.graph.embeddability`.

Termination guarantee (a length cap ``max_len`` on the tokens after BOS, EOS included): finishing from any state
needs at least ``need = (components - 1) + (3 - rank)`` more bonds, and that many always suffice (a bond between two
components joins them; a bond inside a component whose cycle translation is outside the current span raises the
rank, and one always exists among the 27 images). An element is only allowed while the atoms so far could still be
bonded within the cap, and a "free" bond only while ``3 + 3*need + 1`` tokens remain; otherwise the bond must be
productive. So every sample ends with EOS, inside the cap, with a valid string: no restarts are needed.
"""

from __future__ import annotations

import numpy as np

from generative.tokenizer import IMAGE_VECTORS, Tokenizer

_T = np.array(IMAGE_VECTORS, dtype=np.int64)  # (27, 3)
_ZERO_IMAGE = IMAGE_VECTORS.index((0, 0, 0))


def edge_key(i: int, j: int, t: tuple[int, int, int]) -> tuple[int, int, tuple[int, int, int]]:
    """The orientation-free identity of a bond (matches :func:`slices.graph.normalise_edges`)."""
    if i > j:
        return j, i, (-t[0], -t[1], -t[2])
    if i == j:
        first = next((x for x in t if x != 0), 0)
        if first < 0:
            return i, i, (-t[0], -t[1], -t[2])
    return i, j, t


def _outside_span(basis: list[np.ndarray], v: np.ndarray) -> np.ndarray:
    """Row-wise: is each vector of ``v`` (k, 3) outside the integer span of ``basis``?"""
    if len(basis) == 0:
        return v.any(axis=1)
    if len(basis) == 1:
        return np.cross(basis[0], v).any(axis=1)
    if len(basis) == 2:
        return (v @ np.cross(basis[0], basis[1])) != 0
    return np.zeros(len(v), dtype=bool)


class GrammarState:
    """Grammar state of one partial SLICES string; :meth:`allowed` gives the mask, :meth:`push` advances."""

    def __init__(self, tok: Tokenizer, max_len: int, max_atoms: int | None = None):
        self.tok = tok
        self.max_len = max_len
        self.max_atoms = min(max_atoms or tok.max_atoms, tok.max_atoms)
        self.species: list[int] = []
        self.used = 0  # tokens written after BOS
        self.in_edges = False
        self.slot = 0  # 0: next token is i, 1: j, 2: image
        self.i = self.j = -1
        self.forced = False  # the current bond must join components or raise the rank
        self.comp: list[int] = []
        self.off: list[np.ndarray] = []
        self.n_comp = 0
        self.basis: list[np.ndarray] = []
        self.keys: set = set()
        self.pair_used: dict[tuple[int, int], int] = {}
        self.saturated: list[int] = []  # per atom: how many partners it has used every image with
        self.done = False

    # ----- bookkeeping -----
    @property
    def n_atoms(self) -> int:
        return len(self.species)

    @property
    def need(self) -> int:
        """Fewest bonds that could still make the graph a connected 3D net."""
        return (self.n_comp - 1) + (3 - len(self.basis))

    def _capacity(self, i: int, j: int) -> int:
        return 13 if i == j else 27  # a self-loop: 26 non-zero images, each equal to its negative

    def _pair_free(self, i: int, j: int) -> bool:
        a, b = min(i, j), max(i, j)
        return self.pair_used.get((a, b), 0) < self._capacity(a, b)

    # ----- the mask -----
    def allowed(self) -> np.ndarray:
        """Boolean mask over the vocabulary of tokens that keep this string completable to a valid 3D net."""
        tok = self.tok
        mask = np.zeros(len(tok), dtype=bool)
        if self.done:
            mask[tok.pad_id] = True
            return mask
        n = self.n_atoms
        remaining = self.max_len - self.used
        if self.slot == 0:
            if not self.in_edges:
                # one more atom: then (n+1) + 3 bonds at least, plus EOS
                if n < self.max_atoms and (n + 1) + 3 * (n + 3) + 1 <= self.max_len:
                    mask[tok.element_start : tok.element_start + tok.n_elements] = True
                if n == 0:
                    return mask
            need = self.need
            if need == 0:
                mask[tok.eos_id] = True
            if 3 + 3 * need + 1 <= remaining:  # room for a bond that does not help
                for i in range(n):
                    mask[tok.index_start + i] = self.saturated[i] < n
            elif need > 0:  # productive bonds exist from every atom
                mask[tok.index_start : tok.index_start + n] = True
            return mask
        if self.slot == 1:
            i = self.i
            for j in range(n):
                if not self.forced:
                    ok = self._pair_free(i, j)
                elif len(self.basis) < 3:
                    ok = True  # join two components, or some image raises the rank
                else:
                    ok = self.comp[j] != self.comp[i]
                mask[tok.index_start + j] = ok
            return mask
        mask[tok.image_start : tok.image_start + 27] = self._image_mask(self.i, self.j)
        return mask

    def _image_mask(self, i: int, j: int) -> np.ndarray:
        ok = np.ones(27, dtype=bool)
        if i == j:
            ok[_ZERO_IMAGE] = False
        same = self.comp[i] == self.comp[j]
        if self.forced and same:
            ok &= _outside_span(self.basis, self.off[i] - self.off[j] + _T)
        if not (self.forced and not same):
            a, b = min(i, j), max(i, j)
            if self.pair_used.get((a, b), 0):
                for k, t in enumerate(IMAGE_VECTORS):
                    if ok[k] and edge_key(i, j, t) in self.keys:
                        ok[k] = False
        return ok

    # ----- advancing -----
    def push(self, token: int) -> None:
        """Advance by one token (assumed allowed by :meth:`allowed`)."""
        tok = self.tok
        if self.done:
            return
        self.used += 1
        if token == tok.eos_id:
            self.done = True
        elif self.slot == 0 and not self.in_edges and tok.element_start <= token < tok.index_start:
            self.species.append(token)
            self.comp.append(self.n_atoms - 1)
            self.off.append(np.zeros(3, dtype=np.int64))
            self.saturated.append(0)
            self.n_comp += 1
        elif self.slot == 0:
            self.in_edges = True
            self.i = token - tok.index_start
            self.forced = not (3 + 3 * self.need + 1 <= self.max_len - (self.used - 1))
            self.slot = 1
        elif self.slot == 1:
            self.j = token - tok.index_start
            self.slot = 2
        else:
            self._add_bond(self.i, self.j, IMAGE_VECTORS[token - tok.image_start])
            self.slot = 0

    def _add_bond(self, i: int, j: int, t: tuple[int, int, int]) -> None:
        key = edge_key(i, j, t)
        self.keys.add(key)
        pair = (key[0], key[1])
        self.pair_used[pair] = self.pair_used.get(pair, 0) + 1
        if self.pair_used[pair] == self._capacity(*pair):
            self.saturated[pair[0]] += 1
            if pair[1] != pair[0]:
                self.saturated[pair[1]] += 1
        tv = np.array(t, dtype=np.int64)
        ci, cj = self.comp[i], self.comp[j]
        if ci == cj:
            v = self.off[i] + tv - self.off[j]
            if _outside_span(self.basis, v[None])[0]:
                self.basis.append(v)
        else:  # hang j's component under i's so that j sits in cell off[i] + t
            shift = self.off[i] + tv - self.off[j]
            for a in range(self.n_atoms):
                if self.comp[a] == cj:
                    self.comp[a] = ci
                    self.off[a] = self.off[a] + shift
            self.n_comp -= 1
