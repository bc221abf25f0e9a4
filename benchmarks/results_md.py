"""``benchmarks/RESULTS.md`` from the result of ``bench_workflows.py``."""

import statistics

from nas.model.config import StudentConfig
from nas.search.front import bits_text, shape_text

LABELS = {"search": "1. default search (TPE, estimator-guided)",
          "random": "2. random sampler, same space",
          "manual": "3. manual workflow (accuracy-only TPE, fixed 8-bit, 20 %)",
          "reference": "4. reference recipe 30-15-4"}
N_INPUTS, N_CLASSES = 30, 4


def _design(row: dict | None) -> str:
    if row is None:
        return "none as accurate as the reference"
    config = StudentConfig.from_dict(row["config"])
    bits = bits_text(config).replace(" | ", "; ")  # a table cell cannot hold "|"
    return (f"{shape_text(config, N_INPUTS, N_CLASSES)}, {bits}, "
            f"sparsity {config.sparsity:.2f}: {100 * row['test_accuracy']:.2f} %, "
            f"{row['lut']:,} LUT, {row['ff']:,} FF, {row['latency_cycles']} cycles")


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    if not values:
        return "n/a"
    return (f"{fmt.format(statistics.median(values))} "
            f"[{fmt.format(min(values))} .. {fmt.format(max(values))}]")


def _targets(summary: dict) -> list[str]:
    targets = summary["targets"]
    per_seed = ", ".join(f"{r:.2f}x" if r else "none as accurate"
                         for r in summary["lut_reduction_per_seed"])
    latency = ", ".join("yes" if ok else "no" for ok in summary["latency_ok_per_seed"])
    return [
        "| target | measured | met |", "|---|---|---|",
        f"| default search: a design as accurate as the reference recipe with <= 1/3 of its "
        f"synthesized LUTs and no more latency cycles | reference LUT / best LUT, median "
        f"{targets['lut_reduction_median']:.2f}x (seeds: {per_seed}); latency no more: {latency} "
        f"| {'yes' if targets['lut_target_met'] else 'no'} |",
        f"| hypervolume >= 1.3x random sampler's (median of seeds) | "
        f"{targets['hv_ratio_vs_random']:.2f}x | {'yes' if targets['hv_target_met'] else 'no'} |",
    ]


def _method_table(result: dict, methods: tuple[str, ...]) -> list[str]:
    summary, n_seeds = result["summary"], len(result["runs"])
    lines = ["| method | hypervolume | smallest as-accurate LUT | its latency (cycles) | "
             "its test accuracy | found in seeds | wall-clock (s) | trials / hour |",
             "|---|---|---|---|---|---|---|---|"]
    for method in methods:
        entry = summary["methods"][method]
        rates = [run[method]["trials_per_hour"] for run in result["runs"].values()
                 if run[method]["trials_per_hour"]]
        lines.append(
            f"| {LABELS[method]} | {_spread(entry['hypervolume'], '{:,.1f}')} | "
            f"{_spread(entry['lut'])} | {_spread(entry['latency'])} | "
            f"{_spread([100 * a for a in entry['accuracy']], '{:.2f} %')} | "
            f"{entry['found']}/{n_seeds} | {_spread(entry['wall'])} | {_spread(rates)} |")
    return lines


def _seed_details(result: dict, methods: tuple[str, ...]) -> list[str]:
    lines = []
    for seed, runs in result["runs"].items():
        lines.append(f"\n**Seed {seed}** (reference recipe: {_design(runs['reference']['designs'][0])})\n")
        lines += ["| method | trials (complete / rejected / failed) | synthesized | "
                  "hypervolume | smallest as-accurate design |", "|---|---|---|---|---|"]
        for method in methods[:-1]:
            run = runs[method]
            counts = run["trials"]
            lines.append(
                f"| {method} | {counts['complete']} / {counts['rejected']} / {counts['failed']} | "
                f"{len(run['designs'])} ({run['failed_synthesis']} failed) | "
                f"{run['score']['hypervolume']:,.1f} | {_design(run['score']['smallest_as_accurate'])} |")
        manual = runs["manual"]
        delivered = next((d for d in manual["designs"] if d["trial"] == manual["delivered_trial"]),
                         None)
        lines.append(f"\nManual workflow's delivered design (most accurate on validation): "
                     f"{_design(delivered)}")
    return lines


def _estimator(result: dict) -> list[str]:
    table = result["estimator"]
    if not table:
        return ["No search design was synthesized."]
    lines = [f"Trial estimate (value-aware trace estimator, shipped open-flow calibration) "
             f"against synthesis, over the {table['n']} synthesized search designs of this run:\n",
             "| quantity | MAPE | worst | exact |", "|---|---|---|---|"]
    for quantity, errors in table["errors"].items():
        lines.append(f"| {quantity} | {errors['mape']:.1f} % | {errors['worst_ape']:.1f} % | "
                     f"{100 * errors['exact_fraction']:.0f} % |")
    estimate, synth = table["estimate_seconds_median"], table["synth_seconds_median"]
    if estimate:
        lines.append(f"\nMedian time per design: estimate {estimate:.2f} s, open-flow synthesis "
                     f"(trace, Verilator on the test set, yosys) {synth:.1f} s: "
                     f"{synth / estimate:,.0f}x faster.")
    return lines


def render(result: dict, methods: tuple[str, ...]) -> str:
    reference_point = result["hv_reference"]
    tools = ", ".join(f"{name} {value}" for name, value in sorted(result["tools"].items()))
    lines = [
        "# Benchmark: estimator-guided search against the manual workflow",
        "",
        "Regenerated by `make bench` (`benchmarks/bench_workflows.py`; its docstring describes "
        "the methods). Every number below is from open-flow synthesis (da4ml RTL, Verilator "
        "bit-exact on the whole test set, yosys `synth_xilinx`), except where it says estimate.",
        "",
        f"- Date: {result['date']}; total time {result['total_seconds'] / 60:.1f} min",
        f"- Machine: {result['machine']}",
        f"- Tools: {tools}",
        f"- Budget: {result['budget']}",
        f"- Hypervolume of (test accuracy, synthesized LUT), reference point accuracy "
        f"{reference_point[0]}, {reference_point[1]:,.0f} LUT (larger is better).",
        "- Figures are the median over seeds and [min .. max].",
        "",
        "## Targets", "", *_targets(result["summary"]),
        "", "## Per method", "", *_method_table(result, methods),
        "", "## Per seed", *_seed_details(result, methods),
        "", "## Estimator", "", *_estimator(result), "",
    ]
    return "\n".join(lines)
