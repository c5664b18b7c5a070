"""Incremental grammar of SLICES strings: which next tokens keep a partial string completable to a valid 3D net.

A :class:`BatchGrammar` follows a batch of samples token by token, with the state of every row in numpy arrays so
that one mask or one update for the whole batch is a handful of array operations. Per row it tracks the atoms, the
bonds already written (to forbid duplicates), a union-find of the quotient graph with each atom's cell offset in its
component's spanning tree, and a basis of the cycle translations (the periodic rank, 3 for a 3D net). This is the
incremental version of :func:`slices.graph.embeddability`.

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

IMAGES = np.array(IMAGE_VECTORS, dtype=np.int64)  # (27, 3); label k and label 26 - k are opposite vectors
ZERO_IMAGE = IMAGE_VECTORS.index((0, 0, 0))
SELF_LOOP_CAPACITY = 13  # distinct bonds from an atom to itself: 26 non-zero images, each equal to its negative
PAIR_CAPACITY = 27


def outside_span(basis: np.ndarray, rank: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Row-wise: is each vector ``v[r, k]`` outside the span of the first ``rank[r]`` rows of ``basis[r]``?

    ``basis`` (R, 3, 3), ``rank`` (R,), ``v`` (R, K, 3) integers -> (R, K) bools (exact integer arithmetic).
    """
    out = np.zeros(v.shape[:2], dtype=bool)
    r0, r1, r2 = rank == 0, rank == 1, rank == 2
    if r0.any():
        out[r0] = v[r0].any(axis=2)
    if r1.any():
        out[r1] = np.cross(basis[r1, None, 0], v[r1]).any(axis=2)
    if r2.any():
        normal = np.cross(basis[r2, 0], basis[r2, 1])
        out[r2] = np.einsum("rkx,rx->rk", v[r2], normal) != 0
    return out  # rank 3: nothing is outside


class BatchGrammar:
    """Grammar states of ``batch`` partial SLICES strings; :meth:`allowed` gives their masks, :meth:`push` advances.

    ``max_atoms`` caps the atoms per string (at most the vocabulary's limit) and ``element_mask`` (a bool per element
    token, in vocabulary order) limits which elements may be written.
    """

    def __init__(self, tok: Tokenizer, batch: int, max_len: int, max_atoms: int | None = None,
                 element_mask: np.ndarray | None = None):
        self.tok = tok
        self.max_len = max_len
        self.max_atoms = min(max_atoms or tok.max_atoms, tok.max_atoms)
        self.element_mask = np.ones(tok.n_elements, dtype=bool) if element_mask is None else element_mask
        a = tok.max_atoms
        self.n = np.zeros(batch, np.int64)  # atoms written
        self.used = np.zeros(batch, np.int64)  # tokens written after BOS
        self.in_edges = np.zeros(batch, bool)
        self.slot = np.zeros(batch, np.int8)  # 0: next token is i (or an element, or EOS), 1: j, 2: the image
        self.first = np.zeros(batch, np.int64)  # i of the bond being written
        self.second = np.zeros(batch, np.int64)  # j
        self.forced = np.zeros(batch, bool)  # the bond being written must join components or raise the rank
        self.done = np.zeros(batch, bool)
        self.species = np.zeros((batch, a), np.int64)  # element token ids
        self.comp = np.zeros((batch, a), np.int64)  # union-find component of each atom
        self.off = np.zeros((batch, a, 3), np.int64)  # each atom's cell in its component's spanning tree
        self.n_comp = np.zeros(batch, np.int64)
        self.basis = np.zeros((batch, 3, 3), np.int64)  # cycle translations found so far (rows < rank)
        self.rank = np.zeros(batch, np.int64)
        self.bond_used = np.zeros((batch, a, a, 27), bool)  # stored in both orientations: (i, j, t) and (j, i, -t)
        self.pair_count = np.zeros((batch, a, a), np.int64)  # bonds per unordered atom pair (symmetric)
        self.saturated = np.zeros((batch, a), np.int64)  # partners each atom has used every image with
        self._atoms = np.arange(a)
        self._capacity = np.where(np.eye(a, dtype=bool), SELF_LOOP_CAPACITY, PAIR_CAPACITY)

    def reset(self, rows: np.ndarray) -> None:
        """Empty the strings of ``rows`` (they start again from BOS)."""
        for name in ("n", "used", "in_edges", "slot", "first", "second", "forced", "done", "species", "comp", "off",
                     "n_comp", "basis", "rank", "bond_used", "pair_count", "saturated"):
            getattr(self, name)[rows] = 0

    def need(self, rows: np.ndarray) -> np.ndarray:
        """Fewest bonds that could still make each row's graph a connected 3D net."""
        return (self.n_comp[rows] - 1) + (3 - self.rank[rows])

    # ----- the mask -----
    def allowed(self, rows: np.ndarray) -> np.ndarray:
        """Bool mask (len(rows), vocabulary) of the tokens that keep each row completable to a valid 3D net."""
        tok = self.tok
        a = tok.max_atoms
        mask = np.zeros((len(rows), len(tok)), dtype=bool)
        n, slot = self.n[rows], self.slot[rows]
        need = self.need(rows)
        at_start = slot == 0
        # an element: then (n+1) atoms need (n+1) + 3 bonds at least, plus EOS, within the cap
        room = (n + 1) + 3 * (n + 3) + 1 <= self.max_len
        more_atoms = at_start & ~self.in_edges[rows] & (n < self.max_atoms) & room
        mask[more_atoms, tok.element_start: tok.index_start] = self.element_mask
        bond_start = at_start & (n > 0)
        mask[bond_start & (need == 0), tok.eos_id] = True
        exists = self._atoms[None, :] < n[:, None]
        free = 3 + 3 * need + 1 <= self.max_len - self.used[rows]  # room for a bond that does not help
        first = exists & np.where(free[:, None], self.saturated[rows] < n[:, None], (need > 0)[:, None])
        indices = mask[:, tok.index_start: tok.index_start + a]  # a view
        indices[bond_start] = first[bond_start]
        pick = np.flatnonzero(slot == 1)
        if len(pick):
            r, i = rows[pick], self.first[rows[pick]]
            comp = self.comp[r]
            other_component = comp != comp[np.arange(len(r)), i][:, None]
            ok = np.where(~self.forced[r, None], self.pair_count[r, i] < self._capacity[i],
                          (self.rank[r] < 3)[:, None] | other_component)
            indices[pick] = ok & exists[pick]
        pick = np.flatnonzero(slot == 2)
        if len(pick):
            mask[pick, tok.image_start: tok.image_start + 27] = self._image_mask(rows[pick])
        return mask

    def _image_mask(self, r: np.ndarray) -> np.ndarray:
        i, j = self.first[r], self.second[r]
        ok = ~self.bond_used[r, i, j]  # no duplicate bond (none exists between two components anyway)
        ok[i == j, ZERO_IMAGE] = False  # no bare self-loop
        raise_rank = self.forced[r] & (self.comp[r, i] == self.comp[r, j])
        if raise_rank.any():
            s = r[raise_rank]
            v = (self.off[s, i[raise_rank]] - self.off[s, j[raise_rank]])[:, None, :] + IMAGES[None]
            ok[raise_rank] &= outside_span(self.basis[s], self.rank[s], v)
        return ok

    # ----- advancing -----
    def closes_elements(self, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Which of ``tokens`` end their row's element block (the first atom index after the elements)."""
        tok = self.tok
        return (self.slot[rows] == 0) & ~self.in_edges[rows] & (tokens >= tok.index_start) & (tokens < tok.image_start)

    def push(self, rows: np.ndarray, tokens: np.ndarray) -> None:
        """Advance ``rows`` by one token each (assumed allowed by :meth:`allowed`)."""
        tok = self.tok
        slot = self.slot[rows]
        self.used[rows] += 1
        self.done[rows[tokens == tok.eos_id]] = True
        is_element = (tokens >= tok.element_start) & (tokens < tok.index_start)
        if is_element.any():
            r = rows[is_element]
            k = self.n[r]
            self.species[r, k] = tokens[is_element]
            self.comp[r, k] = k
            self.n_comp[r] += 1
            self.n[r] += 1
        is_index = (tokens >= tok.index_start) & (tokens < tok.image_start)
        first = is_index & (slot == 0)
        if first.any():
            r = rows[first]
            remaining = self.max_len - (self.used[r] - 1)
            self.forced[r] = ~(3 + 3 * self.need(r) + 1 <= remaining)
            self.in_edges[r] = True
            self.first[r] = tokens[first] - tok.index_start
            self.slot[r] = 1
        second = is_index & (slot == 1)
        if second.any():
            r = rows[second]
            self.second[r] = tokens[second] - tok.index_start
            self.slot[r] = 2
        image = slot == 2
        if image.any():
            r = rows[image]
            self._add_bonds(r, self.first[r], self.second[r], tokens[image] - tok.image_start)
            self.slot[r] = 0

    def _add_bonds(self, r: np.ndarray, i: np.ndarray, j: np.ndarray, k: np.ndarray) -> None:
        self.bond_used[r, i, j, k] = True
        self.bond_used[r, j, i, 26 - k] = True
        self.pair_count[r, i, j] += 1
        pair = i != j
        self.pair_count[r[pair], j[pair], i[pair]] += 1
        full = self.pair_count[r, i, j] == self._capacity[i, j]
        self.saturated[r[full], i[full]] += 1
        full &= pair
        self.saturated[r[full], j[full]] += 1
        ci, cj = self.comp[r, i], self.comp[r, j]
        v = self.off[r, i] + IMAGES[k] - self.off[r, j]  # j's cell as seen through this bond, relative to its own
        same = ci == cj
        if same.any():  # a cycle: its translation may raise the rank
            s = r[same]
            grows = outside_span(self.basis[s], self.rank[s], v[same][:, None, :])[:, 0]
            g = s[grows]
            self.basis[g, self.rank[g]] = v[same][grows]
            self.rank[g] += 1
        joins = ~same
        if joins.any():  # hang j's component under i's so that j sits in cell off[i] + t
            d = r[joins]
            members = self.comp[d] == cj[joins][:, None]
            self.comp[d] = np.where(members, ci[joins][:, None], self.comp[d])
            self.off[d] += members[:, :, None] * v[joins][:, None, :]
            self.n_comp[d] -= 1
