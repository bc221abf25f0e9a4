"""Calibration rows of the public hls4ml projects behind ../shared's facts table, read from
the projects' own folders.

The facts table (``calibration/public_hls4ml_mlp/reports.csv``) records each report's layer
sizes and precisions; ../shared holds the folders only of its two MIT-licensed repositories.
The other repositories carry no license, so their files stay out of ../shared and out of this
project, but their folders hold what the table cannot: the weights (how many products are
multipliers, how many shift-adds) and each input's width where an HGQ quantizer feeds a layer
(the inputs it holds at zero). This script reads each table row's folder at the row's commit
from a clone of its repository, checks that the folder's C-synthesis report is the row's
(part, LUT, FF, DSP, latency), and writes the estimator's view of it: calibration rows
(layer sizes, types, weight *counts*; never a weight) with the row's name, repository and the
folder's provenance. ``bench_vendor_hls.py`` and ``nas calibrate --rows`` put them in place of
their table rows. The same rows made with each alternative in ``RULE_ALTERNATIVES`` of the
rules' parameters go beside them (``variants``), for the benchmark's check of each choice.

    python benchmarks/public_projects.py --clones DIR [DIR ...] [--out FILE]

A clone is looked up as ``DIR/<owner>+<name>/repo`` (a bare mirror) or ``DIR/<owner>/<name>``
(``git clone https://github.com/<owner>/<name> DIR/<owner>/<name>``); only the files the
reader needs are taken out of it (``git archive``), into a temporary folder.
"""

import argparse
import csv
import json
import re
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from nas.estimators.vendor.rows import calibration_row
from nas.estimators.vendor.rules import MAX_TABLE_INPUT_BITS, ODD_PART_TOOLS
from nas.hls.fact_tables import merge_folders, read_table
from nas.hls.project_facts import read_project

ROOT = Path(__file__).resolve().parents[1]
FACTS = ROOT.parent / "shared" / "calibration" / "public_hls4ml_mlp" / "reports.csv"
OUT = ROOT / "benchmarks" / "data" / "public_project_rows.json"
#: The files of a project folder that ``read_project`` reads.
NEEDED = re.compile(r"(hls4ml_config\.yml|firmware/[^/]+\.(h|cpp)|firmware/weights/[^/]+\.txt|"
                    r"nnet_code_gen\.h|syn/report/[^/]*csynth\.xml)$")
#: The rules' parameters (of ``calibration_row``) the benchmark checks, with the value shipped
#: and the values compared with it: the narrow-input width (0: no input makes tables) and the
#: tools that fold constants of a narrow odd part.
SHIPPED_RULES = {"table_input_bits": MAX_TABLE_INPUT_BITS, "odd_part_tools": ODD_PART_TOOLS}
RULE_ALTERNATIVES = {"table_input_bits": (0, 3, 4, 6),
                     "odd_part_tools": (("Vitis HLS",), ("Vitis HLS", "Vivado HLS"))}


def git_dir(repo: str, clones: list[Path]) -> Path | None:
    """The local clone of ``owner/name`` under one of ``clones``, if any."""
    owner, name = repo.split("/")
    for top in clones:
        for candidate in (top / f"{owner}+{name}" / "repo", top / owner / name):
            if candidate.is_dir():
                return candidate
    return None


def extract(repo_dir: Path, commit: str, path: str, into: Path) -> Path:
    """The files ``read_project`` needs of ``path`` at ``commit``, written below ``into``."""
    git = ["git", f"--git-dir={repo_dir / '.git' if (repo_dir / '.git').exists() else repo_dir}"]
    listed = subprocess.run([*git, "ls-tree", "-r", "--name-only", commit, "--", path],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    files = [name for name in listed if NEEDED.search(name)]
    archive = subprocess.run([*git, "archive", commit, "--", *files], capture_output=True,
                             check=True).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / path


def table_projects() -> list[dict]:
    """The (repository, commit, project path) of each table row, once each."""
    with FACTS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    seen = {(r["repo"], r["commit"], r["project_path"]): r["license"] for r in rows}
    return [{"repo": repo, "commit": commit, "path": path, "license": license}
            for (repo, commit, path), license in seen.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=Path, nargs="+", required=True, metavar="DIR")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    table = read_table(FACTS)
    folders, skipped = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for n, project in enumerate(table_projects()):
            where = f"{project['repo']}@{project['commit'][:7]}:{project['path']}"
            repo_dir = git_dir(project["repo"], args.clones)
            if repo_dir is None:
                skipped.append(f"{where}: no clone")
                continue
            try:
                folder = extract(repo_dir, project["commit"], project["path"],
                                 Path(scratch) / str(n))
                facts = read_project(folder, layer_reports=True)
            except (subprocess.CalledProcessError, OSError, ValueError) as error:
                skipped.append(f"{where}: {str(error).splitlines()[0][:160]}")
                continue
            if facts.report is None:
                skipped.append(f"{where}: no C-synthesis report of the top function")
                continue
            folders.append(replace(facts, source=f"github:{project['repo']}@{project['commit']}:"
                                                 f"{project['path']}"))
        merged = merge_folders(table, folders)
    read = [facts for facts, row in zip(merged, table, strict=False) if facts is not row]
    rows = [calibration_row(facts) for facts in read]
    variants = [{"rule": {name: value},
                 "rows": [calibration_row(facts, **{name: value}) for facts in read]}
                for name, values in RULE_ALTERNATIVES.items() for value in values
                if value != SHIPPED_RULES[name]]
    unmatched = [facts.source for facts in merged[len(table):]]
    skipped += [f"{source}: its report is no table row's" for source in unmatched]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"made_by": "benchmarks/public_projects.py",
                                    "facts_table": "calibration/public_hls4ml_mlp/reports.csv",
                                    "rows": rows, "variants": variants,
                                    "skipped": skipped}, indent=1) + "\n")
    print(f"{len(rows)} of {len(table)} table rows read from their folders; "
          f"{len(skipped)} folders skipped")
    for line in skipped:
        print(f"  skipped {line}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
