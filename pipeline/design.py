"""Inverse design as a closed loop (``slices design``): rounds of propose -> decode and judge -> learn, until a
budget of CPU time, candidates, hits or rounds is spent. See ``docs/design.md``.

1. **Propose** (:mod:`pipeline.proposals`): sample many strings conditioned on the target (with guidance), rank
   them by what the string alone predicts (the composition band-gap model, SMACT, the element constraints, a known
   composition, a formula already found, the cell size) and keep only the best for decoding.
2. **Decode and judge** with the product's own path (:func:`pipeline.generate.generate` on the chosen strings):
   relaxation, the hull of known materials, novelty against everything known, symmetry, and the band gap of the
   relaxed crystal by MEGNet. The judge is MEGNet, not the composition model that ranked the proposals; both gaps
   are reported. A hit is stable (<= 0.1 eV/atom above the hull), unique (also across rounds), new and on target.
3. **Learn** (:func:`generative.finetune.finetune`): fine-tune the shipped generator on every hit so far, mixed
   with training crystals and capped per composition; the next round samples from it. Each round's model is kept.
4. **Report** (:mod:`pipeline.design_report`): ``rounds.csv``, ``hits.csv``, symmetrised CIFs, ``report.md``.

Every round is on disk before the next starts (:mod:`pipeline.design_rounds`): calling :func:`design` again with
the same ``out`` resumes, inside a round too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from periodicnet.errors import ArgumentError
from pipeline.design_target import DesignBudget, DesignTarget, LoopSettings
from pipeline.errors import RunMismatchError
from pipeline.options import Runner
from pipeline.rundir import dumps, ensure_folder, read_json, write_atomic

FORMAT = "slices-design/1"


@dataclass
class DesignResult:
    """What a design run produced: one record per round, the hits (best first) and why the loop stopped."""

    out: Path
    rounds: list[dict]
    hits: list[dict]
    stop_reason: str
    summary: dict = field(default_factory=dict)

    def hits_table(self):
        """The hits as a pandas DataFrame (the columns of ``hits.csv``)."""
        import pandas as pd

        from pipeline.design_report import HIT_COLUMNS

        return pd.DataFrame([{c: h.get(c) for c in HIT_COLUMNS} for h in self.hits], columns=HIT_COLUMNS)

    def rounds_table(self):
        """The rounds as a pandas DataFrame (the columns of ``rounds.csv``)."""
        import pandas as pd

        from pipeline.design_report import ROUND_COLUMNS

        return pd.DataFrame([{c: r.get(c) for c in ROUND_COLUMNS} for r in self.rounds], columns=ROUND_COLUMNS)


def _check_settings(root: Path, settings: dict) -> None:
    import json

    settings = json.loads(dumps(settings))
    path = root / "design.json"
    if path.is_file():
        stored = read_json(path, "delete the folder or give another --out")
        if stored != settings:
            changed = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
            raise RunMismatchError(f"{root} holds a design run with other settings ({', '.join(changed)}); give "
                                   f"another --out, or the same settings to resume it")
    else:
        write_atomic(path, dumps(settings) + "\n")


def _lock(root: Path):
    """Hold the folder's lock (one writer at a time), as ``generate`` does for its run folder."""
    import fcntl

    from pipeline.errors import PipelineError

    handle = open(root / ".design.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise PipelineError(f"another design run is writing to {root}; wait for it or give another --out") from None
    return handle


def design(target: DesignTarget, budget: DesignBudget, *, out: str | os.PathLike = "design",
           loop: LoopSettings = LoopSettings(), runner: Runner = Runner()) -> DesignResult:
    """Run design rounds into the folder ``out`` until ``budget`` is spent; returns the rounds and the hits.

    ``target`` says what a hit is, ``budget`` when to stop, ``loop`` how each round proposes and learns and
    ``runner`` where decoding runs. Calling it again with the same ``out`` (and settings) resumes; a larger budget
    continues a finished run."""
    for name, value, kind in (("target", target, DesignTarget), ("budget", budget, DesignBudget),
                              ("loop", loop, LoopSettings), ("runner", runner, Runner)):
        if not isinstance(value, kind):
            raise ArgumentError(f"{name} must be a {kind.__module__}.{kind.__name__}, got {type(value).__name__}")
    from pipeline import design_report
    from pipeline.design_rounds import RoundContext, cpu_seconds_now, run_round

    root = ensure_folder(out)
    settings = {"format": FORMAT, "target": target.as_dict(), "loop": loop.as_dict(),
                "time_limit": runner.time_limit, "potential": runner.potential}
    handle = _lock(root)
    try:
        mark = cpu_seconds_now()  # this session's setup is charged to its first round
        _check_settings(root, settings)
        known = _known_compositions(runner.progress)
        rounds: list[dict] = []
        hits: list[dict] = []
        model: str | None = None
        while True:
            spent = sum(r["cpu_seconds"] for r in rounds)
            per_round = spent / len(rounds) if rounds else 0.0
            stop = budget.spent(spent, sum(r["decoded"] for r in rounds), len(hits), len(rounds), per_round)
            if stop is None:
                stop = _out_of_reach(rounds)
            if stop is not None:
                break
            ctx = RoundContext(root, target, loop, runner, model, known, list(hits))
            record = run_round(len(rounds), ctx, cpu_seconds_now, mark)
            mark = cpu_seconds_now()
            rounds.append(record)
            hits.extend(record["hit_list"])
            model = None if record["model_after"] == "shipped" else record["model_after"]
            design_report.write(root, target, rounds, hits, stop_reason="running")
        summary = design_report.write(root, target, rounds, hits, stop_reason=stop)
        return DesignResult(out=root, rounds=rounds, hits=design_report.ranked(hits, target), stop_reason=stop,
                            summary=summary)
    finally:
        handle.close()


BARREN_ROUNDS = 2
"""The loop stops after this many rounds in a row in which no proposal passed the string filters."""


def _out_of_reach(rounds: list[dict]) -> str | None:
    """Why the target looks out of reach (the sampler found no allowed composition, or no proposal passed the
    filters in :data:`BARREN_ROUNDS` rounds in a row), or None."""
    if rounds and rounds[-1]["note"].startswith("no proposal:"):
        return f"round {rounds[-1]['round']} could sample no proposal: {rounds[-1]['note'][len('no proposal: '):]}"
    last = rounds[-BARREN_ROUNDS:]
    if len(last) == BARREN_ROUNDS and all(r["passing"] == 0 for r in last):
        return (f"the target looks out of reach: in {BARREN_ROUNDS} rounds in a row no proposal passed the string "
                f"filters; last round: {last[-1]['note']}")
    return None


def _known_compositions(progress: bool) -> set[str]:
    """Reduced formulas of every known crystal and composition of the shared data (the novelty index's)."""
    from pipeline.criteria import Criteria
    from pipeline.generate import _known_index

    index = _known_index(Criteria(), progress)
    return set(index.formulas) if index is not None else set()
