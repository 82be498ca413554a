"""deltaw's performance benchmark: epoch times against plain numpy, the book's algorithm and
PyTorch.

    python benchmarks/run.py            # the full benchmark (a few minutes on 2 cores)
    python benchmarks/run.py --quick    # a fast smoke run: fewer repetitions, 10,000 training rows

MNIST is read from ``$DELTAW_MNIST_DIR``; without it a synthetic MNIST-shaped
data set (random pixels, random labels; same shapes and dtypes) is used, and
the output says so. Prints a table and writes JSON to
``benchmarks/results/<date>.json`` (or ``--json PATH``).

How it measures: for each configuration every contender starts from deltaw's
initial weights; first :func:`contenders.agreement` trains each a few
mini-batches in the same order and checks they reach the same weights (so the
comparison is of the same math); then one warm-up epoch each, then
``--repeats`` rounds, each timing one epoch of every contender, in an order
that rotates from round to round. Times are medians; ratios are the median of
the per-round ratios (each round's contenders ran back to back, under the
same load).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import system  # noqa: E402
from benchmarks.contenders import Config, Deltaw, agreement, make, tolerance, torch_version  # noqa: E402

ALL = ("deltaw", "numpy", "book", "torch")
CONFIGS = [
    Config("ch1-f64-b10", batch=10, dtype="float64", contenders=ALL),
    Config("ch1-f32-b10", batch=10, dtype="float32"),
    Config("ch1-f64-b128", batch=128, dtype="float64"),
    Config("ch1-f32-b128", batch=128, dtype="float32"),
    Config(
        "ch3-f64-b10",
        layers=(784, 100, 10),
        cost="cross-entropy",
        eta=0.5,
        lmbda=5.0,
        batch=10,
        dtype="float64",
        contenders=ALL,
    ),
]
# (config, contender, other, bound): the targets on ratios of median epoch times
RATIO_TARGETS = [
    ("ch1-f64-b10", "deltaw", "numpy", ("≤", 1.05)),
    ("ch1-f32-b10", "deltaw", "numpy", ("≤", 1.05)),
    ("ch1-f64-b128", "deltaw", "numpy", ("≤", 1.05)),
    ("ch1-f32-b128", "deltaw", "numpy", ("≤", 1.05)),
    ("ch1-f64-b10", "book", "deltaw", ("≥", 5.0)),
    ("ch1-f32-b10", "torch", "deltaw", ("≥", 3.0)),
    ("ch1-f32-b128", "torch", "deltaw", ("≥", 1.5)),
]
SLOW = ("book", "torch")
SLOW_REPEATS = (
    3  # rounds for contenders whose epoch takes over SLOW_EPOCH s (the book; PyTorch at batch 10) …
)
SLOW_EPOCH = 1.0
# … and one round when the first takes longer than this (PyTorch's threads on a loaded machine)
VERY_SLOW_EPOCH = 8.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="Fewer repetitions and 10,000 training rows: a smoke run.",
    )
    parser.add_argument(
        "--repeats", type=int, help="Timed epochs per contender (default 7, quick 3)."
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="Where to write the results (default benchmarks/results/<date>.json).",
    )
    parser.add_argument(
        "--only", nargs="*", help="Run only these configurations (names as in the table)."
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="BLAS and PyTorch threads for every contender (deltaw through "
        "training.threads); default: as the environment sets them.",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 7)
    started = time.perf_counter()
    configs = [c for c in CONFIGS if not args.only or c.name in args.only]
    if args.threads:
        from dataclasses import replace

        from deltaw.runs.environment import blas_threads

        configs = [replace(c, threads=args.threads) for c in configs]
        blas_threads(
            args.threads
        ).__enter__()  # the references too; for the whole (short-lived) process

    with tempfile.TemporaryDirectory(prefix="deltaw-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data, source = data_reference(tmp, limit=10_000 if args.quick else None)
        results: dict[str, Any] = {
            "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "quick": args.quick,
            "repeats": repeats,
            "threads_limit": args.threads,
            "data": source,
            "machine": system.machine(),
            "configs": [],
        }
        print(f"deltaw benchmark — {source['description']}", flush=True)
        if torch_version() is None:
            print(
                "PyTorch is not installed: its rows are skipped (pip install torch to include "
                "them).",
                flush=True,
            )
        for cfg in configs:
            results["configs"].append(bench_config(cfg, data, repeats, tmp))
        if not args.only:
            results["threads"] = bench_threads(data, max(3, repeats - 2), tmp)
            results["evaluation"] = bench_evaluation(data, repeats, tmp)
            results["startup"] = {
                "help": system.startup(["--help"], 5 if args.quick else 10),
                "plugins": system.startup(["plugins"], 3 if args.quick else 7),
            }
            results["memory"] = bench_memory(data, tmp)
        results["targets"] = targets(results)
        results["seconds"] = time.perf_counter() - started
    print_report(results)
    path = args.json or ROOT / "benchmarks" / "results" / f"{results['date'].replace(':', '')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nWrote {path} ({results['seconds']:.0f} s in all)")
    return 0


# ---------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------


def data_reference(tmp: Path, limit: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The spec's ``data`` entry: MNIST from $DELTAW_MNIST_DIR, else a synthetic MNIST-shaped
    npz."""
    extra = {"limit": limit} if limit else {}
    if os.environ.get("DELTAW_MNIST_DIR"):
        where = os.environ["DELTAW_MNIST_DIR"]
        train = limit or 50_000
        return {"name": "mnist", **extra}, {
            "kind": "mnist",
            "dir": where,
            "train_rows": train,
            "description": f"MNIST from $DELTAW_MNIST_DIR={where}: {train:,} training, 10,000 "
            "validation, 10,000 test images",
        }
    path = tmp / "synthetic-mnist.npz"
    rng = np.random.default_rng(0)

    def images(n: int) -> np.ndarray:  # MNIST-like sparsity: ~20% of pixels lit, values in (0, 1]
        x = rng.random(
            (n, 784)
        )  # float64, like MNIST in the chapter-1 run: loading makes no cast copy
        x[x < 0.8] = 0
        return x

    np.savez(
        path,
        x_train=images(50_000),
        y_train=rng.integers(0, 10, 50_000),
        x_validation=images(10_000),
        y_validation=rng.integers(0, 10, 10_000),
        x_test=images(10_000),
        y_test=rng.integers(0, 10, 10_000),
    )
    train = limit or 50_000
    return {"name": "npz", "path": str(path), "shuffle": False, **extra}, {
        "kind": "synthetic",
        "train_rows": train,
        "description": f"SYNTHETIC MNIST-shaped data ($DELTAW_MNIST_DIR is not set): {train:,} "
        "training, 10,000 validation, "
        "10,000 test rows of random pixels — timings are comparable, accuracies are meaningless",
    }


# ---------------------------------------------------------------------------------------
# epoch times
# ---------------------------------------------------------------------------------------


def bench_config(cfg: Config, data: dict[str, Any], repeats: int, tmp: Path) -> dict[str, Any]:
    """Agreement check, warm-up, then interleaved timed epochs of every contender of ``cfg``."""
    names = [c for c in cfg.contenders if c != "torch" or torch_version() is not None]
    print(f"\n{cfg.name}: {cfg.label} — checking agreement …", flush=True)
    agree = agreement(cfg, data, steps=5, contenders=tuple(names), workdir=tmp)
    bad = {k: v for k, v in agree.items() if not v <= tolerance(cfg.dtype)}
    if bad:
        raise SystemExit(
            f"{cfg.name}: contenders disagree with deltaw after 5 steps (relative difference "
            f"{bad}); "
            "the comparison would not be of the same math."
        )
    dw = Deltaw(cfg, data, tmp)
    runners = {"deltaw": dw, **{c: make(c, cfg, dw) for c in names if c != "deltaw"}}
    for name, runner in runners.items():
        if name != "book":  # nothing to warm up in the book's loop, and it takes seconds
            runner.warm_up()  # first-touch page faults, caches, PyTorch's lazy set-up
    times: dict[str, list[float | None]] = {name: [] for name in runners}
    order = list(runners)
    for rep in range(repeats):
        shift = rep % len(order)
        for name in order[shift:] + order[:shift]:
            done = [t for t in times[name] if t is not None]
            if (
                name in SLOW
                and done
                and (
                    len(done) >= SLOW_REPEATS
                    and statistics.median(done) > SLOW_EPOCH
                    or done[0] > VERY_SLOW_EPOCH
                )
            ):
                times[name].append(
                    None
                )  # slow contenders get fewer rounds, so the whole run stays short
                continue
            started = time.perf_counter()
            runners[name].epoch()
            times[name].append(time.perf_counter() - started)
        print(
            "  round",
            rep + 1,
            " ".join(f"{n} {t[-1]:.3f}s" for n, t in times.items() if t[-1] is not None),
            flush=True,
        )
    medians = {n: statistics.median([t for t in ts if t is not None]) for n, ts in times.items()}
    return {
        "name": cfg.name,
        "label": cfg.label,
        "config": cfg.__dict__ | {"layers": list(cfg.layers)},
        "agreement": agree,
        "times": times,
        "median": medians,
        "ratios": paired_ratios(times),
    }


def paired_ratios(times: dict[str, list[float | None]]) -> dict[str, float]:
    """``a/b`` for every pair, as the median over rounds where both ran of time(a)/time(b)."""
    out = {}
    for a in times:
        for b in times:
            if a != b:
                pairs = [
                    ta / tb
                    for ta, tb in zip(times[a], times[b])
                    if ta is not None and tb is not None
                ]
                if pairs:
                    out[f"{a}/{b}"] = statistics.median(pairs)
    return out


def bench_threads(data: dict[str, Any], repeats: int, tmp: Path) -> list[dict[str, Any]]:
    """deltaw and the numpy reference with 1 and 2 BLAS threads (``training.threads``),
    interleaved."""
    from deltaw.runs.environment import blas_threads

    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        print("\nthreadpoolctl is not installed: BLAS threads are not compared.")
        return []
    out = []
    for base in (CONFIGS[0], CONFIGS[3]):
        print(f"\nBLAS threads, {base.name}: 1 vs 2 …", flush=True)
        dw1 = Deltaw(Config(**{**base.__dict__, "threads": 1}), data, tmp)
        ref = make("numpy", base, dw1)
        limits = {1: blas_threads(1), 2: blas_threads(2)}
        dw1.epoch()
        ref.epoch()
        times: dict[str, list[float | None]] = {
            "deltaw-1": [],
            "deltaw-2": [],
            "numpy-1": [],
            "numpy-2": [],
        }
        for rep in range(repeats):
            for threads in (1, 2) if rep % 2 == 0 else (2, 1):
                dw1.threads = limits[threads]  # the same context manager that training.threads uses
                started = time.perf_counter()
                dw1.epoch()
                times[f"deltaw-{threads}"].append(time.perf_counter() - started)
                with limits[threads]:
                    started = time.perf_counter()
                    ref.epoch()
                    times[f"numpy-{threads}"].append(time.perf_counter() - started)
        out.append(
            {
                "name": base.name,
                "label": base.label,
                "times": times,
                "median": {k: statistics.median(v) for k, v in times.items()},
                "ratios": {
                    k: v
                    for k, v in paired_ratios(times).items()
                    if k in ("deltaw-2/deltaw-1", "numpy-2/numpy-1")
                },
            }
        )
    return out


def bench_evaluation(data: dict[str, Any], repeats: int, tmp: Path) -> dict[str, Any]:
    """One epoch's evaluation (cost + accuracy, batched) and the book's per-example evaluate on
    10,000 images."""
    from benchmarks.contenders import Book

    print("\nevaluation …", flush=True)
    cfg = CONFIGS[0]
    dw = Deltaw(cfg, data, tmp)
    dw.evaluate(["validation"])
    out: dict[str, Any] = {}
    for splits in (["training", "validation"], ["validation"]):
        rows = sum(len(s) for name, s in dw.data.items() if name in splits)
        ts = []
        for _ in range(repeats):
            started = time.perf_counter()
            dw.evaluate(splits)
            ts.append(time.perf_counter() - started)
        out["+".join(splits)] = {"rows": rows, "median": statistics.median(ts), "times": ts}
    val = dw.data.validation
    book = Book(cfg, dw.start, val)
    pairs = [(x.reshape(-1, 1), int(np.argmax(y))) for x, y in zip(val.x, val.y)]

    def feedforward(a: np.ndarray) -> np.ndarray:
        for b, w in zip(book.biases, book.weights_):
            a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
        return a

    ts = []
    with np.errstate(over="ignore"):
        for _ in range(max(1, repeats // 2)):
            started = time.perf_counter()
            sum(int(np.argmax(feedforward(x)) == y) for x, y in pairs)  # network.py's evaluate()
            ts.append(time.perf_counter() - started)
    out["book-per-example-validation"] = {
        "rows": len(pairs),
        "median": statistics.median(ts),
        "times": ts,
    }

    from deltaw.runs.folder import new_run_folder
    from deltaw.runs.writer import RunWriter

    writer = RunWriter(new_run_folder(tmp / "runs", "writes"))
    record = {"epoch": 1.0, **dw.evaluate(["validation"])}
    dw.trainer.history.append(record)
    ts = []
    for _ in range(repeats):
        started = time.perf_counter()
        writer.on_epoch_end(
            dw.trainer, 1, record
        )  # metrics.jsonl, metrics.csv, checkpoint.npz (atomic, fsync)
        ts.append(time.perf_counter() - started)
    out["run-folder-writes"] = {"rows": 0, "median": statistics.median(ts), "times": ts}
    return out


def bench_memory(data: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Peak memory of a one-epoch chapter-1 ``deltaw run`` against the size of its data arrays."""
    import yaml

    from benchmarks.contenders import spec_for

    print("\npeak memory of a chapter-1 run …", flush=True)
    cfg = CONFIGS[0]
    data = {
        k: v for k, v in data.items() if k != "limit"
    }  # the whole training set, even with --quick
    spec = spec_for(cfg, data)
    spec["training"] = {
        "epochs": 1,
        "batch_size": cfg.batch,
    }  # deltaw run's defaults: evaluate training + validation
    path = tmp / "chapter1.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    dw = Deltaw(cfg, data, tmp)
    data_mb = sum(s.x.nbytes + s.y.nbytes for _, s in dw.data.items()) / 2**20
    del dw
    peak = system.peak_memory(path, tmp / "memory-runs")
    return {"spec": spec, "data_mb": data_mb, "peak_mb": peak, "limit_mb": 1.5 * data_mb + 150}


# ---------------------------------------------------------------------------------------
# targets and the report
# ---------------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each of the issue's targets with the measured value and whether it is met."""
    out = []
    by_name = {c["name"]: c for c in results["configs"]}
    for name, a, b, (op, bound) in RATIO_TARGETS:
        value = by_name.get(name, {}).get("ratios", {}).get(f"{a}/{b}")
        if value is not None:
            met = value <= bound if op == "≤" else value >= bound
            out.append(
                {
                    "what": f"{name}: {a} / {b}",
                    "value": value,
                    "target": f"{op} {bound:g}",
                    "met": met,
                }
            )
    for key, bound in (("help", 0.3), ("plugins", 0.6)):
        if "startup" in results:
            value = results["startup"][key]["median"]
            out.append(
                {
                    "what": f"`{results['startup'][key]['command']}` (s)",
                    "value": value,
                    "target": f"< {bound:g}",
                    "met": value < bound,
                }
            )
    if "memory" in results:
        mem = results["memory"]
        out.append(
            {
                "what": "peak memory of a chapter-1 run (MB)",
                "value": mem["peak_mb"],
                "target": f"≤ {mem['limit_mb']:.0f} (1.5 × {mem['data_mb']:.0f} MB of data + 150)",
                "met": mem["peak_mb"] <= mem["limit_mb"],
            }
        )
    return out


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\n## Results ({results['data']['kind']} data, {results['repeats']} rounds, medians)\n")
    print(
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, numpy {m['numpy']}; BLAS "
        f"{_blas(m)}; env {m['env'] or '{}'}"
    )
    if m.get("torch"):
        print(f"PyTorch {m['torch']['version']}, {m['torch']['threads']} threads")
    print("\nEpoch times in seconds (median); ratios are medians of per-round ratios.\n")
    print(
        "| configuration | deltaw | numpy | book | torch | deltaw ÷ numpy | book ÷ deltaw | torch "
        "÷ deltaw |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for c in results["configs"]:
        med, rat = c["median"], c["ratios"]
        t = [f"{med[k]:.3f}" if k in med else "—" for k in ALL]
        r = [
            f"{rat[k]:.2f}" if k in rat else "—"
            for k in ("deltaw/numpy", "book/deltaw", "torch/deltaw")
        ]
        print(f"| {c['label']} | {' | '.join(t)} | {' | '.join(r)} |")
    for c in results["configs"]:
        print(
            f"{c['name']}: weights after 5 steps differ from deltaw's by at most (relative) "
            + ", ".join(f"{k} {v:.1e}" for k, v in c["agreement"].items())
        )
    if results.get("threads"):
        print("\n| configuration | BLAS threads | deltaw (s) | numpy (s) |")
        print("|---|---|---|---|")
        for t in results["threads"]:
            for n in (1, 2):
                print(
                    f"| {t['label']} | {n} | {t['median'][f'deltaw-{n}']:.3f} | "
                    f"{t['median'][f'numpy-{n}']:.3f} |"
                )
    if results.get("evaluation"):
        print("\n| per epoch, besides training | rows | time (s) |")
        print("|---|---|---|")
        for k, v in results["evaluation"].items():
            rows = f"{v['rows']:,}" if v["rows"] else "—"
            print(f"| {EVAL_LABELS.get(k, k)} | {rows} | {v['median']:.3f} |")
    print("\n| target | measured | wanted | met |")
    print("|---|---|---|---|")
    for t in results["targets"]:
        print(f"| {t['what']} | {t['value']:.3f} | {t['target']} | {'yes' if t['met'] else 'NO'} |")


EVAL_LABELS = {
    "training+validation": "deltaw evaluation, cost + accuracy, training + validation (deltaw "
    "run's default)",
    "validation": "deltaw evaluation, cost + accuracy, validation only",
    "book-per-example-validation": "the book's evaluate(): one example at a time, validation",
    "run-folder-writes": "deltaw run's run-folder writes (metrics + checkpoint, atomic with fsync)",
}


def _blas(m: dict[str, Any]) -> str:
    if isinstance(m["blas"], str):
        return m["blas"]
    return (
        ", ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']}, {b['num_threads']} threads)"
            for b in m["blas"]
        )
        or "none found"
    )


if __name__ == "__main__":
    sys.exit(main())
