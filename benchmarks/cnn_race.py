"""The CNN race's score (issue 29): on a CNN space, at each accuracy level and at the best level
both methods reach, the smallest bit-exact design of the default search and of HGQ2 at equal
compute, chosen on validation accuracy (as a user chooses; test accuracy is reported), and the
default's LUTs over HGQ2's."""

from statistics import median_high

from harness import MISSED, lut_ratio, smallest_at

#: The seed the CNN spaces' defaults were set up on; the race's goal is scored on the others.
TUNING_SEEDS = (0,)
#: ``bench_cnn.py``'s results of the held-out seeds, in ``benchmarks/results``.
HELD_OUT_FILES = "cnn_seed*.json"


def result_name(seed: int, precision: str | None = None) -> str:
    """The file ``bench_cnn.py`` writes a seed's results to: ``cnn.json`` for the set-up seed,
    ``HELD_OUT_FILES``' form for the others; ``cnn_<precision>.json`` and
    ``cnn_<precision>_seed<N>.json`` for students of another precision than the spaces' (a
    variant beside the race, not in its medians)."""
    name = "cnn.json" if seed in TUNING_SEEDS else HELD_OUT_FILES.replace("*", str(seed))
    return name if precision is None else name.replace("cnn", f"cnn_{precision}", 1)


#: Validation accuracies scored per space (the best level both reach is added), and the LUT
#: ratio the target asks for at each (none: reported, not a target).
LEVELS = {"cnn_digits": (0.96, 0.97), "cnn_psd": (0.97, 0.975, 0.98)}
GOALS = {"cnn_digits": 0.8}
SUMMARY = ("trial", "val_accuracy", "test_accuracy", "lut", "latency_cycles")


def best_level(ours: list[dict], theirs: list[dict]) -> float | None:
    """The highest validation accuracy that both methods' bit-exact designs reach (the one
    that reaches any, when only one does; None when neither does)."""
    tops = [max(d["val_accuracy"] for d in exact)
            for exact in ([d for d in designs if d["bit_exact"]] for designs in (ours, theirs))
            if exact]
    return min(tops) if tops else None


def _summary(design: dict | None) -> dict | None:
    return None if design is None else {key: design[key] for key in SUMMARY}


def race(space: str, ours: list[dict], theirs: list[dict]) -> list[dict]:
    """One row per level of ``space``: both methods' smallest design at it, the ratio
    (``MISSED`` where the default has none, 0 where only the default has one) and, where the
    space has a goal, whether the ratio meets it."""
    goal = GOALS.get(space)
    best = best_level(ours, theirs)
    levels = [(f"{100 * level:.1f} %", level) for level in LEVELS[space]]
    levels += [] if best is None else [("best both reach", best)]
    rows = []
    for name, level in levels:
        default, hgq2 = smallest_at(ours, level), smallest_at(theirs, level)
        ratio = lut_ratio(default, hgq2)
        rows.append({"space": space, "level": name, "val_accuracy": level,
                     "default": _summary(default), "hgq2": _summary(hgq2), "ratio": ratio,
                     "goal": goal, "met": None if goal is None else bool(ratio <= goal)})
    return rows


def shown_ratio(row: dict) -> str:
    """The ratio as a reader reads it: a number, or which method alone has a design."""
    if row["ratio"] == MISSED:
        return "HGQ2 only" if row["hgq2"] else "neither"
    return "default only" if row["hgq2"] is None else f"{row['ratio']:.2f}"


def race_medians(races: dict[int, list[dict]]) -> list[dict]:
    """Per space and level, the ratio of each seed's race (``races``: seed -> rows of
    ``race``) and their median (a seed where the default has no design is ``MISSED``, ranked
    above every ratio; of an even count the higher middle, so a miss is never averaged), and,
    where the space has a goal, whether the median meets it."""
    keys = list(dict.fromkeys((row["space"], row["level"]) for rows in races.values()
                              for row in rows))
    summary = []
    for space, level in keys:
        ratios = {seed: row["ratio"] for seed, rows in races.items() for row in rows
                  if (row["space"], row["level"]) == (space, level)}
        middle = median_high(list(ratios.values()))
        goal = GOALS.get(space)
        summary.append({"space": space, "level": level, "ratios": ratios, "median": middle,
                        "goal": goal, "met": None if goal is None else bool(middle <= goal)})
    return summary
