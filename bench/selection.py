"""Selection benchmarks (issue 6), each measured against its baseline in the same run.

(a) facility location, n=10k, budget 1k, on one dense kernel: our lazy greedy vs
    apricot's FacilityLocationSelection(metric="precomputed", optimizer="lazy");
    the kernel is a clipped cosine of random Gaussian embeddings (continuous, so
    no ties and both tie rules agree). Metric: time ratio; selections must match.
(b) facility location, n=100k, budget 10k, on the kNN-sparse kernel (IVF kNN,
    k=64), in a fresh process so its peak RSS is its own. Data: 2,000 clusters
    of unit centers plus Gaussian noise of norm ~0.8 (d=64), i.e. topic-like
    clusters. Quality: on a random 10k subsample of the same data, the dense
    objective reached by the sparse (IVF) selection ÷ the one reached by dense
    lazy greedy (budget 1k).
(c) ZIP-FIT scores (C(x), C(t) once; prefix-copy for sources >= 1 KB; worker
    processes with glibc's trim threshold raised) vs the reference formula pair
    by pair (three gzip calls per pair, in the main process); scores must be
    identical. The detail line also times the naive loop in a worker with the
    same allocator setting, to show how much of the gain is the allocator.

Usage: .venv/bin/python bench/selection.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pathlib
import random
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# Run as a script, this file's folder comes first on sys.path and its name would
# shadow the `selection` package: put the repository root first instead.
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from selection.compression import tune_allocator, zipfit_scores, zipfit_scores_naive  # noqa: E402
from selection.greedy import lazy_greedy  # noqa: E402
from selection.kernels import cosine_kernel, inverse_lists, knn_graph, normalize_rows  # noqa: E402
from selection.submodular import FacilityLocation, SparseFacilityLocation  # noqa: E402


def emit(metric: str, value: float, unit: str, baseline: str, goal: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, "baseline": baseline, "goal": goal}))


def clustered_embeddings(n: int, dim: int, n_centers: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = normalize_rows(rng.standard_normal((n_centers, dim)))
    points = centers[rng.integers(n_centers, size=n)] + noise * rng.standard_normal((n, dim)).astype(np.float32)
    return normalize_rows(points)


def bench_vs_apricot(n: int, budget: int, dim: int, seed: int = 0, repeats: int = 2) -> dict:
    emb = normalize_rows(np.random.default_rng(seed).standard_normal((n, dim)))
    kernel = cosine_kernel(emb, mode="clip")
    try:
        from apricot import FacilityLocationSelection
    except Exception as exc:  # apricot needs numba; report instead of failing the other benchmarks
        return {"error": f"apricot unavailable: {exc!r}"}
    FacilityLocationSelection(5, metric="precomputed", optimizer="lazy").fit(kernel[:100, :100])  # numba JIT warm-up
    ours_s, apricot_s = [], []
    for _ in range(repeats):  # alternating repeats, best of each: the host is shared and noisy
        start = time.perf_counter()
        ours = lazy_greedy(FacilityLocation(kernel), budget)
        ours_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = FacilityLocationSelection(budget, metric="precomputed", optimizer="lazy").fit(kernel)
        apricot_s.append(time.perf_counter() - start)
    same = [int(i) for i in theirs.ranking] == ours.indices
    return {"ours_s": min(ours_s), "apricot_s": min(apricot_s), "ratio": min(ours_s) / min(apricot_s), "identical": same}


NOISE = 0.1  # per dimension: noise norm ~0.8 at d=64, same-cluster cosine ~0.6


def bench_data(n: int, dim: int, seed: int) -> np.ndarray:
    return clustered_embeddings(n, dim, n_centers=max(10, n // 50), noise=NOISE, seed=seed)


def peak_rss_gb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: after fork+exec, ru_maxrss keeps the
    parent's high-water mark (here the 10k dense kernel of benchmark (a))."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e9
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def _sparse_run(n: int, budget: int, dim: int, k_nn: int, seed: int, queue) -> None:
    emb = bench_data(n, dim, seed)
    start = time.perf_counter()
    graph = knn_graph(emb, k_nn, method="ivf", seed=seed)
    knn_s = time.perf_counter() - start
    lists = inverse_lists(graph)
    del graph
    result = lazy_greedy(SparseFacilityLocation(lists), budget)
    total_s = time.perf_counter() - start
    queue.put({"seconds": total_s, "knn_s": knn_s, "peak_rss_gb": peak_rss_gb(), "selected": len(result.indices)})


def bench_sparse(n: int, budget: int, dim: int, k_nn: int, seed: int = 0) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_sparse_run, args=(n, budget, dim, k_nn, seed, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def sparse_quality(n_full: int, n: int, budget: int, dim: int, k_nn: int, seed: int = 0) -> dict[str, float]:
    """Dense objective of the sparse selections ÷ dense lazy greedy's, for the kNN the pipeline
    builds at this n (auto: exact up to 20k) and for the IVF search used at 100k."""
    full = bench_data(n_full, dim, seed)
    emb = full[np.sort(np.random.default_rng(seed + 1).choice(n_full, n, replace=False))]
    kernel = cosine_kernel(emb, mode="clip")
    dense = lazy_greedy(FacilityLocation(kernel), budget)
    out = {}
    for method in ("auto", "ivf"):
        lists = inverse_lists(knn_graph(emb, k_nn, method=method, seed=seed))
        reached = FacilityLocation(kernel)
        for j in lazy_greedy(SparseFacilityLocation(lists), budget).indices:
            reached.add(j)
        out[method] = reached.objective() / dense.objective
    return out


def random_text(rnd: random.Random, vocab: list[str], nbytes: int) -> str:
    words, size = [], 0
    while size < nbytes:
        words.append(rnd.choice(vocab))
        size += len(words[-1]) + 1
    return " ".join(words)


def bench_zipfit(n_sources: int, n_targets: int, workers: int) -> dict:
    rnd = random.Random(0)
    vocab = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 9))) for _ in range(4000)]
    domain = vocab[:300]  # targets use a narrow vocabulary; half the sources share it
    targets = [random_text(rnd, domain, rnd.randint(500, 1000)) for _ in range(n_targets)]
    # source lengths log-uniform in 0.5-8 KB (files and long answers; ZIP-FIT's code setting)
    sources = [random_text(rnd, domain if i % 2 else vocab, int(2 ** rnd.uniform(9, 13))) for i in range(n_sources)]
    start = time.perf_counter()
    naive = zipfit_scores_naive(sources, targets)
    naive_s = time.perf_counter() - start
    start = time.perf_counter()
    fast = zipfit_scores(sources, targets, workers=workers)
    fast_s = time.perf_counter() - start
    # Transparency: the naive loop in one worker with the same allocator tuning, to split the gain.
    with ProcessPoolExecutor(max_workers=1, initializer=tune_allocator) as pool:
        pool.submit(int).result()  # start-up outside the timing
        start = time.perf_counter()
        tuned = pool.submit(zipfit_scores_naive, sources, targets).result()
        naive_tuned_s = time.perf_counter() - start
    return {
        "naive_s": naive_s,
        "fast_s": fast_s,
        "ratio": fast_s / naive_s,
        "naive_tuned_allocator_s": naive_tuned_s,
        "identical": bool(np.array_equal(fast, naive) and np.array_equal(tuned, naive)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about 30 s)")
    parser.add_argument("--dim", type=int, default=64, help="embedding dimension for (b)")
    args = parser.parse_args()
    q = args.quick
    n_a, k_a = (3000, 300) if q else (10_000, 1000)
    n_b, k_b, sub_n, sub_k = (20_000, 2000, 3000, 300) if q else (100_000, 10_000, 10_000, 1000)
    n_src, n_tgt = (60, 20) if q else (300, 50)
    workers = max(1, min(4, os.cpu_count() or 1))

    a = bench_vs_apricot(n_a, k_a, dim=32)
    print(f"# (a) FL n={n_a} budget={k_a}: {a}", file=sys.stderr)
    b = bench_sparse(n_b, k_b, args.dim, k_nn=64)
    quality = sparse_quality(n_b, sub_n, sub_k, args.dim, k_nn=64)
    print(f"# (b) sparse FL n={n_b} budget={k_b} d={args.dim} k_nn=64: {b}; objective vs dense at n={sub_n}: {quality}", file=sys.stderr)
    c = bench_zipfit(n_src, n_tgt, workers)
    print(f"# (c) ZIP-FIT {n_src} sources x {n_tgt} targets, {workers} workers: {c}", file=sys.stderr)

    if "ratio" in a:
        note = "" if a["identical"] else " (selections differ!)"
        emit("fl_10k_time_ratio_vs_apricot", a["ratio"], "ratio", f"apricot lazy {a['apricot_s']:.2f}s{note}", "<= 0.5, identical")
    else:
        print(f"# (a) skipped: {a['error']}", file=sys.stderr)
    emit("fl_100k_seconds", b["seconds"], "s", "none (absolute)", "<= 60")
    emit("fl_100k_peak_rss_gb", b["peak_rss_gb"], "GB", "none (absolute)", "<= 4")
    emit("fl_10k_knn_objective_vs_dense", quality["auto"], "ratio", "dense lazy greedy", ">= 0.99")
    emit("fl_10k_ivf_objective_vs_dense", quality["ivf"], "ratio", "dense lazy greedy", "none (informative)")
    note = "" if c["identical"] else " (scores differ!)"
    emit("zipfit_time_ratio_vs_naive", c["ratio"], "ratio", f"naive per-pair {c['naive_s']:.2f}s{note}", "<= 0.2, identical")


if __name__ == "__main__":
    main()
