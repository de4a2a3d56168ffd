#!/usr/bin/env python3
"""Benchmark validate and build on synthetic repositories of 1k, 10k and 100k records.

    make bench        # = .venv/bin/python scripts/bench.py
    .venv/bin/python scripts/bench.py --sizes 1000,10000 --out bench-results/latest.json

For each size it writes a synthetic repository (scripts/synthetic.py) into --workdir, commits it
to a throwaway git repository there, and measures, each step as its own process (wall time, and
peak memory: the largest process's max RSS from wait4, and the whole process tree's PSS sampled
every 100 ms):

- the floor: reading every record file and parsing it with libyaml (``yaml.load(...,
  Loader=yaml.CSafeLoader)``), in one process and with every core;
- the naive baseline: yaml-to-sqlite (one list file per collection, installed on first use into
  its own venv under bench-results/) plus ``frictionless validate datapackage.json`` on the CSVs
  of our build, at sizes up to --naive-limit, each with a --naive-timeout;
- ours: ``validate`` and ``build`` cold (no cache), ``build`` and ``validate`` again with nothing
  changed, then ``validate``, ``validate --changed-since`` and ``build``, each right after a
  record changed that no earlier run saw (these warm steps --warm-repeat times, the median run reported);
- Datasette over the built database (the serve command's own configuration, in-process client):
  the median time of the events table page and of facets, and whether a facet timed out.

It prints a table (seconds, records per second, ratio to the all-cores floor, memory), checks the
targets, and writes everything as JSON (--out) and the table as Markdown (beside it, .md). The OS
file cache is warm (every step reads files the previous one read), as it is for a contributor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "scripts" / "synthetic.py"
NAIVE_VENV = REPO / "bench-results" / ".naive-venv"
MB = 1024 * 1024

TARGETS = {  # step -> (limit, unit, what, records: None for the largest size); ratios are to the all-cores floor
    "validate cold": (1.3, "x floor", "cold validate within 1.3x the all-cores libyaml floor", None),
    "build cold": (2.0, "x floor", "cold build within 2x the all-cores libyaml floor", None),
    "build, one record changed": (1.0, "s", "rebuild after one change under 1 s at 10k records", 10000),
    "validate, one record changed": (0.5, "s", "validation after one change under 0.5 s", None),
    "validate --changed-since, one record changed": (1.0, "s", "validate --changed-since under 1 s", None),
    "datasette table page (median)": (0.050, "s", "Datasette events table page under 50 ms (median)", None),
    "datasette facet (median)": (0.200, "s", "Datasette facet inside the 200 ms limit", None),
}
MEMORY_LIMIT_MB = 1024


# --------------------------------------------------------------------------- measuring a process


def _tree_pss(pid: int) -> int:
    """Proportional set size of a process and all its descendants, from /proc (0 once it is gone): memory
    shared by forked workers counts once in all, not once per process as resident set sizes would."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:")) * 1024
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(command: list[str], cwd: Path = REPO, timeout: float = 900) -> dict:
    """Run ``command`` and return its wall time, exit status, and peak memory in MB."""
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty command cannot block on it
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.1):  # not more often: reading smaps_rollup slows the process it reads
            peak[0] = max(peak[0], _tree_pss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    timer.cancel()
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    errors.seek(0)
    err = errors.read().decode(errors="replace")
    errors.close()
    timed_out = seconds >= timeout and proc.returncode < 0
    return {
        "seconds": round(seconds, 3),
        "exit": proc.returncode,
        "timed_out": timed_out,
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux: the largest single process
        "tree_pss_mb": round(peak[0] / MB, 1),  # sampled sum over the process tree
        "stderr_tail": err[-400:] if proc.returncode else "",
    }


# --------------------------------------------------------------------------- the floor (run in a child process)


def collections(root: Path) -> list[str]:
    """The collection directories of the repository at ``root`` (read from data/: the floor imports no model)."""
    return sorted(entry.name for entry in os.scandir(root / "data") if entry.is_dir())


def record_files(root: Path) -> list[str]:
    return sorted(entry.path for name in collections(root)
                  for entry in os.scandir(root / "data" / name) if entry.name.endswith(".yaml"))


def parse_files(paths: list[str]) -> int:
    import yaml

    for path in paths:
        with open(path, "rb") as file:
            yaml.load(file.read(), Loader=yaml.CSafeLoader)
    return len(paths)


def floor(root: Path, jobs: int) -> int:
    """Read and parse every record file with libyaml, in ``jobs`` processes; print the count."""
    paths = record_files(root)
    if jobs == 1:
        count = parse_files(paths)
    else:
        import multiprocessing

        chunks = [paths[i::jobs] for i in range(jobs)]
        with multiprocessing.Pool(jobs) as pool:
            count = sum(pool.map(parse_files, chunks))
    print(count)
    return 0


# --------------------------------------------------------------------------- Datasette (run in a child process)


def datasette_timings(root: Path, repeat: int) -> int:
    """Median times of the events table page and of facets over the built database; print JSON."""
    import asyncio

    sys.path.insert(0, str(REPO / "src"))
    from iraq_transition import serve

    served = serve.datasette(root / "build")
    # The same configuration without facet suggestions (Datasette's suggest_facets setting), to show their cost.
    unsuggested = serve.datasette(root / "build")
    unsuggested._settings["suggest_facets"] = False
    db = serve.DATABASE
    pages = {
        "datasette table page (median)": (served, f"/{db}/events"),
        "datasette table json (median)": (served, f"/{db}/events.json"),
        "datasette facet (median)": (served, f"/{db}/events.json?_facet=place_country&_facet=event_type&_facet=status"),
        "datasette search (median)": (served, f"/{db}/quotes?_search=withdrawal"),
        "datasette table page, suggest_facets off (median)": (unsuggested, f"/{db}/events"),
        "datasette facet, suggest_facets off (median)": (unsuggested, f"/{db}/events.json?_facet=place_country&_facet=event_type&_facet=status"),
    }

    async def run() -> dict:
        results = {}
        for name, (ds, path) in pages.items():
            times = []
            for _ in range(repeat + 1):  # the first request warms caches and is not counted
                start = time.perf_counter()
                response = await ds.client.get(path)
                times.append(time.perf_counter() - start)
            result = {"seconds": round(statistics.median(times[1:]), 4), "status": response.status_code, "path": path}
            if path.endswith("status"):
                result["facets_timed_out"] = response.json().get("facets_timed_out", [])
            results[name] = result
        return results

    print(json.dumps(asyncio.run(run())))
    return 0


# --------------------------------------------------------------------------- the steps


def cli(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "iraq_transition", "--root", str(root), *args]


def git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def prepare(size: int, seed: int, workdir: Path) -> Path:
    """A fresh synthetic repository of ``size`` records, committed to git, with the datapackage."""
    root = workdir / f"synthetic-{size}"
    if root.exists():
        shutil.rmtree(root)
    subprocess.run([sys.executable, str(SYNTHETIC), "--records", str(size), "--seed", str(seed), "--out", str(root)],
                   check=True, capture_output=True)
    if (REPO / "datapackage.json").exists():
        shutil.copy2(REPO / "datapackage.json", root / "datapackage.json")
    (root / ".gitignore").write_text("build/\n.cache/\nnaive/\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "synthetic")
    return root


def naive_tools() -> Path | None:
    """yaml-to-sqlite, installed into its own venv on first use (not a project dependency)."""
    executable = NAIVE_VENV / "bin" / "yaml-to-sqlite"
    if not executable.exists():
        subprocess.run([sys.executable, "-m", "venv", str(NAIVE_VENV)], check=True)
        install = subprocess.run([str(NAIVE_VENV / "bin" / "pip"), "install", "--quiet", "yaml-to-sqlite"],
                                 capture_output=True, text=True)
        if install.returncode:
            print(f"yaml-to-sqlite could not be installed: {install.stderr[-300:]}", file=sys.stderr)
            return None
    return executable


def naive_steps(root: Path, timeout: float) -> dict[str, dict]:
    """yaml-to-sqlite (one list file per collection; writing the lists is not timed), then frictionless."""
    tool = naive_tools()
    if tool is None:
        return {"naive: yaml-to-sqlite": {"skipped": "yaml-to-sqlite could not be installed"}}
    work = root / "naive"
    work.mkdir(exist_ok=True)
    for name in collections(root):
        with open(work / f"{name}.yaml", "w", encoding="utf-8") as out:
            for path in sorted((root / "data" / name).glob("*.yaml")):
                body = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
                out.write("- " + "\n  ".join(body) + "\n")
    script = "; ".join(f"{tool} {work / 'naive.db'} {name} {work / name}.yaml --pk id" for name in collections(root))
    steps = {"naive: yaml-to-sqlite": measure(["sh", "-c", f"set -e; rm -f {work / 'naive.db'}; {script}"],
                                              timeout=timeout)}
    frictionless = Path(sys.executable).parent / "frictionless"
    if (root / "datapackage.json").exists() and (root / "build" / "csv").is_dir():
        steps["naive: frictionless validate"] = measure([str(frictionless), "validate", "datapackage.json"],
                                                        cwd=root, timeout=timeout)
    else:
        steps["naive: frictionless validate"] = {"skipped": "no datapackage.json or build/csv to validate"}
    return steps


def median_run(runs: list[dict]) -> dict:
    """The run of median time among ``runs`` (the machine's speed varies between runs), with every run's time."""
    median = dict(sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2])
    median["runs"] = [run["seconds"] for run in runs]
    return median


def change_one_record(root: Path, which: int) -> tuple[Path, bytes]:
    """Edit the description of one event (a different one for each ``which``) in place; the file and its old bytes."""
    path = sorted((root / "data" / "events").glob("*.yaml"))[len(os.listdir(root / "data" / "events")) // 2 + which]
    old = path.read_bytes()
    path.write_bytes(old.replace(b"\ndescription: ", b"\ndescription: Edited. ", 1))
    return path, old


def bench_size(size: int, args: argparse.Namespace) -> dict[str, dict]:
    from iraq_transition.cache_home import cache_directory  # here: the floor's processes must not pay for the import

    root = prepare(size, args.seed, args.workdir)
    me = [sys.executable, str(Path(__file__).resolve())]
    steps: dict[str, dict] = {}
    measure(me + ["--floor", str(root), "--jobs", "1"])  # warm the OS file cache
    steps["floor: libyaml, 1 process"] = measure(me + ["--floor", str(root), "--jobs", "1"])
    steps[f"floor: libyaml, {args.jobs} processes"] = measure(me + ["--floor", str(root), "--jobs", str(args.jobs)])

    shutil.rmtree(cache_directory(root), ignore_errors=True)
    steps["validate cold"] = measure(cli(root, "validate"))
    shutil.rmtree(cache_directory(root), ignore_errors=True)
    shutil.rmtree(root / "build", ignore_errors=True)
    steps["build cold"] = measure(cli(root, "build"))
    steps["build, nothing changed"] = median_run([measure(cli(root, "build")) for _ in range(args.warm_repeat)])
    steps["validate, nothing changed"] = median_run([measure(cli(root, "validate")) for _ in range(args.warm_repeat)])
    changed = []  # each run right after a change of its own, which no earlier run has seen
    one_change = (
        ("validate, one record changed", cli(root, "validate")),
        ("validate --changed-since, one record changed", cli(root, "validate", "--changed-since", "HEAD")),
        ("build, one record changed", cli(root, "build")),
    )
    for kind, (step, command) in enumerate(one_change):
        runs = []
        for run in range(args.warm_repeat):
            changed.append(change_one_record(root, kind * args.warm_repeat + run))
            runs.append(measure(command))
        steps[step] = median_run(runs)
    for path, old in changed:
        path.write_bytes(old)

    if (root / "build").is_dir():
        steps.update(datasette_steps(root, args.repeat))
    if size <= args.naive_limit:
        steps.update(naive_steps(root, args.naive_timeout))
    else:
        steps["naive: yaml-to-sqlite"] = {"skipped": f"above --naive-limit {args.naive_limit} records"}
    return steps


def datasette_steps(root: Path, repeat: int) -> dict[str, dict]:
    """Run the Datasette timings in a child process and return them as steps."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--datasette", str(root),
                           "--repeat", str(repeat)], capture_output=True, text=True)
    if proc.returncode:
        return {"datasette": {"skipped": f"failed: {proc.stderr.strip().splitlines()[-1:]}"}}
    return json.loads(proc.stdout)


def startup(repeat: int) -> dict[str, dict]:
    """Median wall time of the command's start-up, and of validating the repository's own records."""
    command = [str(Path(sys.executable).parent / "iraq-transition")]
    commands = {"iraq-transition --help": command + ["--help"],
                "iraq-transition validate (this repository)": command + ["--root", str(REPO), "validate"]}
    steps = {}
    for name, argv in commands.items():
        runs = [measure(argv) for _ in range(repeat)]
        steps[name] = {**runs[-1], "seconds": round(statistics.median(run["seconds"] for run in runs), 3)}
    return steps


# --------------------------------------------------------------------------- report


def rows(results: dict, jobs: int) -> list[list[str]]:
    table = []
    for size, steps in results.items():
        floor_seconds = steps.get(f"floor: libyaml, {jobs} processes", {}).get("seconds")
        for name, step in steps.items():
            if "skipped" in step:
                table.append([f"{int(size):,}" if size.isdigit() else size, name, "skipped", "", "", "", step["skipped"]])
                continue
            seconds = step["seconds"]
            note = "TIMED OUT" if step.get("timed_out") else (f"exit {step['exit']}" if step.get("exit") else "")
            if len(step.get("runs", ())) > 1:
                note += f" median of {len(step['runs'])}: " + ", ".join(f"{run:.2f}" for run in step["runs"]) + " s"
            if step.get("facets_timed_out"):
                note += f" facets timed out: {', '.join(step['facets_timed_out'])}"
            per_second = f"{int(size) / seconds:,.0f}" if seconds and size.isdigit() and "datasette" not in name else ""
            ratio = f"{seconds / floor_seconds:.2f}" if floor_seconds and "datasette" not in name else ""
            memory = f"{step['max_rss_mb']:.0f} / {step['tree_pss_mb']:.0f}" if "max_rss_mb" in step else ""
            shown = f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
            table.append([f"{int(size):,}" if size.isdigit() else size, name, shown, per_second, ratio, memory,
                          note.strip()])
    return table


def markdown(results: dict, jobs: int, machine: dict) -> str:
    header = ["records", "step", "time", "records/s", "x floor (all cores)", "peak MB (largest RSS / tree PSS)", "note"]
    lines = [f"Run {machine['date']} on commit {machine['commit']}. Machine: {machine['cpus']} cores, Python "
             f"{machine['python']}, load average at start {machine['load_average']}. Time is wall time of the whole "
             "command, start-up included.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results, jobs)]
    return "\n".join(lines) + "\n"


def check_targets(results: dict, jobs: int) -> list[dict]:
    checks = []
    largest = max((size for size in results if size.isdigit()), key=int)
    steps = results[largest]
    for name, (limit, unit, what, records) in TARGETS.items():
        size = str(records or largest)
        step = results.get(size, {}).get(name)
        floor_seconds = results.get(size, {}).get(f"floor: libyaml, {jobs} processes", {}).get("seconds")
        if not step or "skipped" in step or (unit == "x floor" and not floor_seconds):
            checks.append({"target": what, "records": int(size), "value": None, "met": None})
            continue
        value = step["seconds"] / floor_seconds if unit == "x floor" else step["seconds"]
        checks.append({"target": what, "records": int(size), "value": round(value, 3), "unit": unit,
                       "met": value <= limit and not step.get("exit")})
    peak = max((step.get("tree_pss_mb", 0) for name, step in steps.items() if not name.startswith(("naive", "floor"))),
               default=0)
    checks.append({"target": f"peak memory of our commands under {MEMORY_LIMIT_MB} MB", "records": int(largest),
                   "value": peak, "unit": "MB", "met": peak < MEMORY_LIMIT_MB})
    return checks


def main(argv: list[str] | None = None) -> int:
    # commands run as a contributor runs them: with Python's bytecode cache (an environment may turn it off, and then
    # every run compiles the package again)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated record counts (default: 1000,10000,100000)")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results" / "latest.json", help="JSON results file (a .md table is written beside it)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/iraq-transition-bench"), help="where the synthetic repositories go")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes of the all-cores floor (default: every core)")
    parser.add_argument("--repeat", type=int, default=15, help="requests per Datasette page (median reported)")
    parser.add_argument("--warm-repeat", type=int, default=3, help="runs of each warm or one-change step (median reported)")
    parser.add_argument("--naive-limit", type=int, default=10000, help="largest size for the naive baseline (default: 10000)")
    parser.add_argument("--naive-timeout", type=float, default=120, help="seconds before a naive step is stopped (default: 120)")
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)  # internal: the floor of one repository
    parser.add_argument("--datasette", type=Path, help=argparse.SUPPRESS)  # internal: Datasette timings of one repository
    args = parser.parse_args(argv)
    if args.floor:
        return floor(args.floor, args.jobs)
    if args.datasette:
        return datasette_timings(args.datasette, args.repeat)

    machine = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "python": platform.python_version(),
               "load_average": " ".join(f"{load:.2f}" for load in os.getloadavg()),
               "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                        text=True).stdout.strip()}
    results: dict[str, dict] = {}
    for size in (int(size) for size in args.sizes.split(",")):
        print(f"benchmarking {size:,} records ...", file=sys.stderr, flush=True)
        results[str(size)] = bench_size(size, args)
    results["start-up"] = startup(args.repeat // 3 or 1)
    table = markdown(results, args.jobs, machine)
    targets = check_targets(results, args.jobs)
    verdicts = [f"- {'met' if t['met'] else 'NOT met' if t['met'] is False else 'not measured'}: {t['target']}"
                + (f" ({t['value']} {t['unit']} at {t['records']:,} records)" if t["value"] is not None else "")
                for t in targets]
    report = table + "\nTargets:\n\n" + "\n".join(verdicts) + "\n"
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "results": results, "targets": targets}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
