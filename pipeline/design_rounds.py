"""One round of the design loop on disk: propose, decode and judge, learn. See :mod:`pipeline.design`.

A round lives in ``DIR/rounds/NNN/`` and each step's result is written before the next starts, so an interrupted
round resumes at the step it stopped in:

- ``proposals.json``: every sampled string, ranked, with what its string predicts, and the ones chosen to decode;
- ``decode/``: the chosen strings as a ``generate`` run (decoding, relaxation, assessment: its own resumable folder);
- ``model.pt``: the generator fine-tuned after this round (only when the round found new hits);
- ``round.json``: the round's counts, hits and CPU time, written last: a round with this file is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipeline.design_target import DesignTarget, LoopSettings
from pipeline.options import Runner
from pipeline.rundir import dumps, read_json, write_atomic

HIT_FIELDS = ("formula", "e_above_hull", "band_gap", "band_gap_composition", "formation_energy_per_atom", "novelty",
              "space_group", "n_atoms", "string", "canonical")


@dataclass
class RoundContext:
    """What a round needs from the loop: the run folder, the target and settings, the runner, the model to
    sample from (None: shipped), the known compositions (reduced formulas), and the hits of earlier rounds."""

    root: Path
    target: DesignTarget
    loop: LoopSettings
    runner: Runner
    model: str | None
    known_compositions: set[str]
    earlier_hits: list[dict]


def round_dir(root: Path, number: int) -> Path:
    return Path(root) / "rounds" / f"{number:03d}"


def finished(root: Path, number: int) -> dict | None:
    """The record of round ``number`` if it is done, else None."""
    path = round_dir(root, number) / "round.json"
    return read_json(path, "delete that round's folder and rerun") if path.is_file() else None


def _propose(folder: Path, number: int, ctx: RoundContext, progress: bool) -> dict:
    path = folder / "proposals.json"
    if path.is_file():
        return read_json(path, "delete it and rerun (the round samples again)")
    import generative
    from generative.errors import CompositionSearchError

    from pipeline import proposals

    target, loop = ctx.target, ctx.loop
    record: dict = {"round": number, "model": ctx.model or "shipped", "proposals": [], "chosen": [], "error": None}
    try:
        strings = generative.sample(loop.proposals, band_gap=target.gap_condition,
                                    formation_energy=target.formation_energy, temperature=loop.temperature,
                                    seed=loop.seed + number, model=ctx.model, guidance=loop.guidance,
                                    elements=list(target.elements) if target.elements else None,
                                    max_atoms=target.max_atoms, valid_composition=True)
    except CompositionSearchError as exc:
        record["error"] = f"no proposal: {exc}"
    else:
        described = proposals.describe(strings)
        gaps = proposals.predict_gaps([d["formula"] for d in described])
        found = {h["formula"] for h in ctx.earlier_hits} | decoded_before(ctx.root, number)
        priors = proposals.known_priors([d["formula"] for d in described])
        ranked = proposals.rank(strings, described, gaps, target, known_compositions=ctx.known_compositions,
                                found_before=found, priors=priors)
        chosen = proposals.choose(ranked, loop.decodes, loop.per_composition)
        record["proposals"] = [p.as_dict() for p in ranked]
        record["chosen"] = [p.index for p in chosen]
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, dumps(record) + "\n")
    return record


def decoded_before(root: Path, number: int) -> set[str]:
    """Formulas chosen for decoding in rounds before ``number`` (a second try of a formula is less often a new
    hit: a repeat of the hit, or the same failure again)."""
    formulas: set[str] = set()
    for earlier in range(number):
        path = round_dir(root, earlier) / "proposals.json"
        if path.is_file():
            record = read_json(path, "delete that round's folder and rerun")
            by_index = {p["index"]: p["formula"] for p in record["proposals"]}
            formulas.update(by_index[i] for i in record["chosen"])
    return formulas


def _decode_and_judge(folder: Path, number: int, record: dict, ctx: RoundContext) -> tuple[list[dict], dict]:
    """Decode the chosen strings with ``generate`` and judge them; returns (rows of the round, generate summary)."""
    from pipeline.generate import generate
    from pipeline.options import Sampling

    by_index = {p["index"]: p for p in record["proposals"]}
    strings = tuple(by_index[i]["string"] for i in record["chosen"])
    if not strings:
        return [], {"decoded": 0, "valid": 0, "unique": 0, "novel": 0, "kept": 0}
    result = generate(Sampling(strings=strings, seed=ctx.loop.seed + number), ctx.target.criteria(),
                      out=folder / "decode", runner=ctx.runner)
    return result.rows, result.summary


def _new_hits(rows: list[dict], folder: Path, number: int, ctx: RoundContext) -> list[dict]:
    """The round's kept rows (stable, unique, new, on target by the judge) that repeat no earlier hit, with
    their CIFs copied to ``DIR/cif/``."""
    import shutil

    from pymatgen.core import Structure

    from screening.matching import find_duplicates

    kept = [r for r in rows if r["status"] == "ok"]
    if not kept:
        return []
    items = [(-1 - k, h.get("canonical"), Structure.from_file(ctx.root / h["cif"]))
             for k, h in enumerate(ctx.earlier_hits)]
    items += [(r["index"], r.get("canonical"), Structure.from_file(folder / "decode" / r["cif"])) for r in kept]
    repeated = find_duplicates(items)
    cif_dir = ctx.root / "cif"
    cif_dir.mkdir(exist_ok=True)
    hits = []
    for r in kept:
        if r["index"] in repeated:
            continue
        name = f"r{number:03d}_{Path(r['cif']).name}"
        shutil.copyfile(folder / "decode" / r["cif"], cif_dir / name)
        hits.append({**{k: r.get(k) for k in HIT_FIELDS}, "round": number, "index": r["index"],
                     "cif": f"cif/{name}"})
    return hits


def _learn(folder: Path, number: int, hits: list[dict], ctx: RoundContext) -> str | None:
    """Fine-tune the shipped generator on every hit so far; returns the model the next round samples from."""
    if not ctx.loop.learn or not hits:
        return ctx.model
    path = folder / "model.pt"
    if not path.is_file():
        from generative.finetune import Example, finetune

        examples = [Example(h["canonical"] or h["string"], h.get("band_gap"), h.get("formation_energy_per_atom"))
                    for h in [*ctx.earlier_hits, *hits]]
        loop = ctx.loop
        finetune(None, examples, steps=loop.finetune_steps, batch_size=loop.finetune_batch, lr=loop.finetune_lr,
                 replay=loop.replay, replay_gap=ctx.target.window, per_composition=loop.hits_per_composition,
                 seed=loop.seed + number, out=path)
    return str(path)


def run_round(number: int, ctx: RoundContext, cpu_clock, start: float) -> dict:
    """Run (or finish) round ``number``; returns its record (also written to ``round.json``).

    ``cpu_clock()`` gives the CPU seconds used so far by this process and its finished children; the round is
    charged from ``start`` (the end of the previous round, or the start of this session: setup counts too)."""
    done = finished(ctx.root, number)
    if done is not None:
        return done
    folder = round_dir(ctx.root, number)
    stages = {"setup": cpu_clock()}
    record = _propose(folder, number, ctx, ctx.runner.progress)
    stages["propose"] = cpu_clock()
    rows, summary = _decode_and_judge(folder, number, record, ctx)
    hits = _new_hits(rows, folder, number, ctx)
    stages["decode_and_judge"] = cpu_clock()
    model = _learn(folder, number, hits, ctx)
    stages["learn"] = cpu_clock()
    marks = [start, *stages.values()]
    stage_cpu = {name: round(marks[k + 1] - marks[k], 1) for k, name in enumerate(stages)}
    passing = sum(p["passes"] for p in record["proposals"])
    note = record.get("error") or ""
    if record["proposals"] and not passing:
        from collections import Counter

        reasons = Counter(p["reason"] for p in record["proposals"]).most_common(3)
        note = "no proposal passed the string filters (" + ", ".join(f"{n} {why}" for why, n in reasons) + ")"
    decoded = [r for r in rows if r.get("structure_valid") is not None]
    judged = [r for r in decoded if r.get("band_gap") is not None]
    window = ctx.target.window
    on_target = [r for r in judged if window is not None and window[0] <= r["band_gap"] <= window[1]]
    result = {
        "round": number, "proposed": len(record["proposals"]), "passing": passing, "chosen": len(record["chosen"]),
        "decoded": len(decoded), "valid": summary.get("valid", 0), "novel": summary.get("novel", 0),
        "on_target_judge": len(on_target), "judged": len(judged), "hits": len(hits),
        "hit_compositions": len({h["formula"] for h in hits}),
        "status_counts": summary.get("status_counts", {}), "model_sampled": record["model"],
        "model_after": model or "shipped", "note": note,
        "cpu_seconds": round(cpu_clock() - start, 1), "stage_cpu_seconds": stage_cpu, "hit_list": hits,
    }
    write_atomic(folder / "round.json", dumps(result) + "\n")
    return result


def cpu_seconds_now() -> float:
    """CPU seconds (user + system) of this process and of every child process it has waited for (the decode
    workers and their own children, once their pool is closed)."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total

