"""Grammar-aware batched sampling: at each step only tokens that keep the string a valid 3D net can be drawn.

A batch of rows is written in lockstep with the model's key/value cache (:class:`generative.model.KVCache`) and one
vectorised grammar (:class:`generative.grammar.BatchGrammar`). Finished rows are dropped from the cache once a
quarter of it is idle. Options that restrict the chemistry:

* ``elements``: only these element tokens can be drawn (the mask renormalises the model's probabilities over them).
* ``max_atoms``: at most this many atoms per cell.
* ``valid_composition``: when a row's element block closes (its first atom index is drawn), a composition that fails
  the SMACT test is rejected and that row starts again from BOS, while the other rows go on. This is rejection
  sampling of the element block, so accepted strings follow the model's distribution conditioned on a valid
  composition exactly; a rejection costs only the few element tokens already written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from generative.errors import CompositionSearchError, SamplingOptionError, UnknownElementsError
from periodicnet.arguments import check_seed
from periodicnet.chemistry import smact_valid as passes_smact  # the project's one SMACT test

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from generative.checkpoint import Bundle
    from generative.grammar import BatchGrammar
    from generative.tokenizer import Tokenizer

# torch, the model and the grammar are imported when sampling starts: `generative.sample` is the package's public
# function, imported eagerly (by the command line and the pipeline's option objects, which read its defaults).

_DEFAULT: Bundle | None = None
COMPACT_BELOW = 0.75  # drop finished rows from the cache when fewer than this share of its rows are still writing
REJECTIONS_PER_SAMPLE = 100  # valid_composition gives up after this many rejected element blocks per sample (+ 1000)


def _resolve(model: Bundle | str | Path | None) -> Bundle:
    from generative.checkpoint import Bundle, load_model

    global _DEFAULT
    if isinstance(model, Bundle):
        return model
    if model is not None:
        return load_model(model)
    if _DEFAULT is None:
        _DEFAULT = load_model()
    return _DEFAULT


@dataclass(frozen=True)
class Options:
    """Checked sampling options shared by every batch of one :func:`sample` call."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    guidance: float = 1.0
    max_atoms: int | None = None
    element_mask: np.ndarray | None = None  # bool per element token, None = every element
    valid_composition: bool = False


def _is_int(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, np.integer))


def _is_number(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float, np.integer, np.floating)) and math.isfinite(x)


def element_mask(elements: Iterable[str] | None, tok: Tokenizer) -> np.ndarray | None:
    """The element tokens ``elements`` allows, as a bool per element of the vocabulary (None: no restriction).

    Raises UnknownElementsError naming every symbol that is not an element of the vocabulary.
    """
    if elements is None:
        return None
    if isinstance(elements, str):
        raise SamplingOptionError(f"elements must be a list of element symbols such as ['Li', 'Fe', 'P', 'O'], got "
                                  f"the string {elements!r}")
    symbols = list(elements)
    if not symbols:
        raise SamplingOptionError("elements is empty: give at least one element symbol (or None for all)")
    bad = [s for s in symbols if not isinstance(s, str)]
    if bad:
        raise SamplingOptionError(f"elements must be element symbols (strings), got {bad!r}")
    unknown = [s for s in symbols if not tok.element_start <= tok.index.get(s, -1) < tok.index_start]
    if unknown:
        raise UnknownElementsError(f"unknown element symbol(s) {', '.join(map(repr, unknown))}: use symbols such as "
                                   f"'Li', 'Fe', 'O' (case matters; the model knows H .. Lr)")
    mask = np.zeros(tok.n_elements, dtype=bool)
    mask[[tok.index[s] - tok.element_start for s in symbols]] = True
    return mask


def check_chemistry(elements: Iterable[str] | None, max_atoms: int | None, valid_composition: bool) -> None:
    """Raise SamplingOptionError (UnknownElementsError for bad symbols) if a chemistry option is malformed, before
    any model is loaded (the pipeline checks its options with this before it creates a run folder)."""
    from generative.tokenizer import Tokenizer

    element_mask(elements, Tokenizer())
    if max_atoms is not None and (not _is_int(max_atoms) or max_atoms < 1):
        raise SamplingOptionError(f"max_atoms must be a positive integer or None, got {max_atoms!r}")
    if not isinstance(valid_composition, (bool, np.bool_)):
        raise SamplingOptionError(f"valid_composition must be True or False, got {valid_composition!r}")


def _check_args(n, temperature, top_k, top_p, conditions, guidance, max_atoms, valid_composition, batch_size) -> None:
    if not _is_int(n) or n < 0:
        raise SamplingOptionError(f"n must be a non-negative integer, got {n!r}")
    if not _is_number(temperature) or temperature <= 0:
        raise SamplingOptionError(f"temperature must be a positive number, got {temperature!r}")
    if top_k is not None and (not _is_int(top_k) or top_k < 1):
        raise SamplingOptionError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (not _is_number(top_p) or not 0 < top_p <= 1):
        raise SamplingOptionError(f"top_p must be in (0, 1] or None, got {top_p!r}")
    if not _is_number(guidance) or guidance < 0:
        raise SamplingOptionError(f"guidance must be a non-negative number, got {guidance!r}")
    for name, value in conditions.items():
        if value is not None and not _is_number(value):
            raise SamplingOptionError(f"{name} must be a finite number or None, got {value!r}")
    check_chemistry(None, max_atoms, valid_composition)
    if not _is_int(batch_size) or batch_size < 1:
        raise SamplingOptionError(f"batch_size must be a positive integer, got {batch_size!r}")


def _filter(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Apply top-k then nucleus (top-p) filtering to already masked logits (-inf = not allowed)."""
    import torch

    if top_k is not None and top_k < logits.shape[1]:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=1, descending=True)
        probs = torch.softmax(sorted_logits, dim=1)
        before = torch.cumsum(probs, dim=1) - probs  # mass of strictly better tokens
        drop_sorted = before >= top_p  # the first token always stays
        drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)
        logits = logits.masked_fill(drop, -math.inf)
    return logits


def sample(
    n: int,
    *,
    model: Bundle | str | Path | None = None,
    band_gap: float | None = None,
    formation_energy: float | None = None,
    temperature: float = 1.0,
    guidance: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    elements: Iterable[str] | None = None,
    max_atoms: int | None = None,
    valid_composition: bool = False,
    canonical: bool = False,
    seed: int = 0,
    batch_size: int = 500,
) -> list[str]:
    """Sample ``n`` SLICES strings; every one parses and describes a connected 3D net.

    ``band_gap`` (eV) and ``formation_energy`` (eV/atom) condition the model; None means unconditioned.
    ``model`` is a loaded bundle, a checkpoint path, or None for the shipped model. With ``canonical`` every
    string is returned in canonical form (:func:`slices.canonical`) and samples whose net has no canonical form
    (e.g. a bond longer than one cell in the reduced basis) are drawn again. ``guidance`` is classifier-free
    guidance: with a condition given, the next-token log-probabilities are ``u + guidance * (c - u)`` from the
    conditioned (c) and the property-free (u) predictions of the same model (1 = plain conditioned sampling, > 1
    pushes harder toward the target, at twice the cost per step).

    Chemistry options (all off by default, so the model's own distribution is sampled): ``elements`` (symbols)
    allows only those elements; ``max_atoms`` caps the atoms per cell (the vocabulary's limit, 20 for the shipped
    model, always applies); ``valid_composition`` redraws every element block whose composition fails the SMACT
    test, which samples the model's distribution conditioned on a valid composition (raises
    CompositionSearchError if the model almost never writes one under the given options).

    The same seed (with the same ``n``, ``batch_size`` and options) gives the same strings on CPU.
    """
    import torch

    conditions = {"band_gap": band_gap, "formation_energy": formation_energy}
    _check_args(n, temperature, top_k, top_p, conditions, guidance, max_atoms, valid_composition, batch_size)
    seed = check_seed(seed)  # before the model is loaded
    bundle = _resolve(model)
    for name, value in conditions.items():
        if value is not None and name not in bundle.properties:
            raise SamplingOptionError(f"this model is not conditioned on {name}; it knows: "
                                      f"{bundle.properties or 'none'}")
    options = Options(float(temperature), top_k, top_p, float(guidance), max_atoms,
                      element_mask(elements, bundle.tokenizer), bool(valid_composition))
    gen = torch.Generator().manual_seed(int(seed))
    out: list[str] = []
    drawn, max_draws = 0, 20 * n + 200
    budget = RejectionBudget(REJECTIONS_PER_SAMPLE * n + 1000)
    while len(out) < n:
        b = min(batch_size, n - len(out))
        with torch.no_grad():
            strings = _sample_batch(bundle, b, conditions, options, gen, budget)
        drawn += b
        if canonical:
            strings = [c for c in map(_canonical_or_none, strings) if c is not None]
            if drawn >= max_draws and len(out) + len(strings) < n:
                raise SamplingOptionError(f"only {len(out) + len(strings)} of {n} samples had a canonical form after "
                                          f"{drawn} draws; try a lower temperature or canonical=False")
        out.extend(strings[: n - len(out)])
    return out


def _canonical_or_none(string: str) -> str | None:
    from slices import canonical
    from slices.errors import SlicesError

    try:
        return canonical(string)
    except SlicesError:
        return None


@lru_cache(maxsize=200_000)
def _composition_ok(symbols: tuple[str, ...]) -> bool:
    """The SMACT test of a cell's species (sorted, so that each composition is judged once)."""
    return passes_smact(symbols)


class RejectionBudget:
    """How many element blocks ``valid_composition`` may still reject in one :func:`sample` call."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def spend(self, k: int, options: Options) -> None:
        self.used += k
        if self.used > self.limit:
            restriction = "" if options.element_mask is None else " within the given elements"
            raise CompositionSearchError(
                f"valid_composition: {self.used} element blocks were rejected by the SMACT test; the model rarely "
                f"writes a charge-balanced composition{restriction} under these options (max_atoms="
                f"{options.max_atoms}); try other elements, a larger max_atoms or valid_composition=False")


def _compositions_fail(grammar: BatchGrammar, samples: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """For rows whose element block these tokens close: does the composition fail the SMACT test?"""
    fail = np.zeros(len(samples), dtype=bool)
    tok = grammar.tok
    for k in np.flatnonzero(grammar.closes_elements(samples, tokens)):
        s = samples[k]
        symbols = tuple(sorted(tok.tokens[t] for t in grammar.species[s, : grammar.n[s]]))
        fail[k] = not _composition_ok(symbols)
    return fail


def _sample_batch(bundle: Bundle, b: int, conditions: dict, options: Options, gen: torch.Generator,
                  budget: RejectionBudget) -> list[str]:
    """One batch of ``b`` strings written in lockstep (call under ``torch.no_grad()``)."""
    import torch

    from generative.grammar import BatchGrammar

    model, tok = bundle.model, bundle.tokenizer
    was_training = model.training
    model.eval()
    values, present = bundle.condition(conditions, b)
    guided = options.guidance != 1.0 and bool(present.any())
    if guided:  # a second, property-free copy of every row, fed the same tokens
        free_values, free_present = bundle.condition({}, b)
        values, present = torch.cat([values, free_values]), torch.cat([present, free_present])
    first_position = model.cfg.n_props + 1  # after the property prefix and BOS
    start_logits, cache = model.start(values, present, tok.bos_id)
    logits = start_logits
    grammar = BatchGrammar(tok, b, bundle.max_len, options.max_atoms, options.element_mask)
    written = np.full((b, bundle.max_len), tok.pad_id, dtype=np.int64)
    position = np.full(b, first_position, dtype=np.int64)  # where each sample's next token goes
    row_sample = np.arange(b)  # the sample written by each cache row (of the first half when guided)
    while True:
        live = np.flatnonzero(~grammar.done[row_sample])
        if not len(live):
            break
        if len(live) < COMPACT_BELOW * len(row_sample):
            rows = torch.from_numpy(live)
            if guided:
                rows = torch.cat([rows, rows + len(row_sample)])
            cache.keep(rows)
            logits, start_logits = logits[rows], start_logits[rows]
            row_sample = row_sample[live]
            live = np.arange(len(row_sample))
        samples = row_sample[live]
        live_t = torch.from_numpy(live)
        step_logits = logits[live_t].float()
        if guided:
            cond = torch.log_softmax(step_logits, 1)
            free = torch.log_softmax(logits[live_t + len(row_sample)].float(), 1)
            step_logits = free + options.guidance * (cond - free)
        mask = torch.from_numpy(grammar.allowed(samples))
        scores = (step_logits / options.temperature).masked_fill(~mask, -math.inf)
        scores = _filter(scores, options.top_k, options.top_p)
        chosen = torch.multinomial(torch.softmax(scores, dim=1), 1, generator=gen)[:, 0].numpy()
        rejected = _compositions_fail(grammar, samples, chosen) if options.valid_composition else None
        go = slice(None) if rejected is None else ~rejected
        accepted, tokens = samples[go], chosen[go]
        written[accepted, grammar.used[accepted]] = tokens
        grammar.push(accepted, tokens)
        if grammar.done[row_sample].all():
            break
        feed = np.full(len(row_sample), tok.pad_id, dtype=np.int64)  # idle and restarting rows: a dummy token
        at = np.full(len(row_sample), first_position, dtype=np.int64)
        feed[live[go]], at[live[go]] = tokens, position[accepted]
        position[accepted] += 1
        feed_t, at_t = torch.from_numpy(feed), torch.from_numpy(at)
        if guided:
            feed_t, at_t = torch.cat([feed_t, feed_t]), torch.cat([at_t, at_t])
        logits = model.step(feed_t, at_t, cache)
        if rejected is not None and rejected.any():
            budget.spend(int(rejected.sum()), options)
            again = samples[rejected]
            grammar.reset(again)
            written[again] = tok.pad_id
            position[again] = first_position
            rows = torch.from_numpy(live[rejected])
            if guided:
                rows = torch.cat([rows, rows + len(row_sample)])
            cache.restart(rows, first_position)
            logits[rows] = start_logits[rows]
    model.train(was_training)
    return [tok.decode(t) for t in written]
