"""Statistics for result tables: spread over seeds, bootstrap CIs over test items, paired tests, pass^k.

Pure numpy. Per-item scores come as an array of shape ``(n_seeds, n_items)`` (a 1-d array is one seed),
with optional weights of the same shape for ratio metrics (e.g. hallucinated calls / tool calls of a
task: value = the task's ratio, weight = its number of calls, so the weighted mean is the pooled rate).

* ``mean_std``: mean and sample std over seeds (std is NaN with one seed: nothing to show).
* ``bootstrap_ci``: percentile CI over test items. Each resample draws item indices with replacement,
  takes the same indices in every seed, averages items within a seed and then averages the seeds.
* ``paired_permutation``: two-sided test of "method A's and method B's mean are equal" on the same
  items: per item, the two methods' scores (averaged over seeds) are swapped with probability 1/2.
* ``paired_bootstrap``: the same question answered by resampling items (percentile p-value).
* ``mcnemar_exact``: exact McNemar test for paired pass/fail outcomes (binomial on discordant pairs).
* ``paired_test``: McNemar when both vectors are one seed of 0/1 outcomes, else the permutation test.
* ``pass_hat_k``: τ-bench's pass^k, the chance that k trials drawn without replacement from n all pass.

Every random procedure takes a ``seed`` and is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


def _as_2d(x, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"{name}: expected shape (n_items,) or (n_seeds, n_items), got {a.shape}")
    if np.isnan(a).any():
        raise ValueError(f"{name}: contains NaN (align items across seeds first)")
    return a


def _weights(w, shape: tuple[int, int], name: str) -> np.ndarray:
    if w is None:
        return np.ones(shape)
    a = _as_2d(w, name)
    if a.shape != shape:
        raise ValueError(f"{name}: shape {a.shape} differs from the scores' {shape}")
    if (a < 0).any():
        raise ValueError(f"{name}: negative weight")
    return a


def _seed_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean over items per seed (last axis); 0 where a seed has no weight."""
    den = weights.sum(axis=-1)
    num = (values * weights).sum(axis=-1)
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def mean_std(per_seed) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1) of per-seed values; std is NaN for one seed.

    >>> mean_std([0.5, 1.0])
    (0.75, 0.3535533905932738)
    """
    a = np.asarray(per_seed, dtype=float).ravel()
    if a.size == 0:
        return math.nan, math.nan
    return float(a.mean()), (float(a.std(ddof=1)) if a.size >= 2 else math.nan)


def item_mean(values, weights=None) -> float:
    """The metric value: per-seed (weighted) item mean, averaged over seeds. ``item_mean([1, 0, 1, 1])`` → 0.75."""
    v = _as_2d(values, "values")
    return float(_seed_means(v, _weights(weights, v.shape, "weights")).mean())


def bootstrap_ci(values, weights=None, *, level: float = 0.95, resamples: int = DEFAULT_RESAMPLES,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``item_mean`` over test items (same item draw in every seed).

    >>> lo, hi = bootstrap_ci([0, 1] * 50, seed=1)
    >>> 0.39 < lo < 0.5 < hi < 0.61
    True
    """
    v = _as_2d(values, "values")
    w = _weights(weights, v.shape, "weights")
    n = v.shape[1]
    if n == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(resamples, n))
    stats = _seed_means(v[:, idx].transpose(1, 0, 2), w[:, idx].transpose(1, 0, 2)).mean(axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return float(lo), float(hi)


def _paired(a, b, wa, wb) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-item seed-averaged scores and weights of two methods on the same items."""
    a2, b2 = _as_2d(a, "a"), _as_2d(b, "b")
    if a2.shape[1] != b2.shape[1]:
        raise ValueError(f"paired tests need the same items: {a2.shape[1]} vs {b2.shape[1]}")
    wa2, wb2 = _weights(wa, a2.shape, "weights_a"), _weights(wb, b2.shape, "weights_b")
    # per item: the weighted mean over seeds, carrying the total weight (a pooled rate stays pooled)
    sa, sb = wa2.sum(axis=0), wb2.sum(axis=0)
    ma = np.divide((a2 * wa2).sum(axis=0), sa, out=np.zeros(a2.shape[1]), where=sa > 0)
    mb = np.divide((b2 * wb2).sum(axis=0), sb, out=np.zeros(b2.shape[1]), where=sb > 0)
    return ma, mb, sa, sb


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)


def paired_permutation(a, b, weights_a=None, weights_b=None, *, resamples: int = DEFAULT_RESAMPLES,
                       seed: int = 0) -> float:
    """Two-sided paired permutation (swap) test of equal means; returns the p-value.

    ``p = (1 + #{|Δ*| >= |Δ|}) / (1 + resamples)``; identical vectors give p = 1.

    >>> paired_permutation([1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0], seed=0) < 0.01
    True
    """
    ma, mb, sa, sb = _paired(a, b, weights_a, weights_b)
    observed = _ratio(ma @ sa, sa.sum()) - _ratio(mb @ sb, sb.sum())
    if np.allclose(ma, mb) and np.allclose(sa, sb):
        return 1.0
    rng = np.random.default_rng(seed)
    swap = rng.random((resamples, ma.size)) < 0.5
    xa, xb = np.where(swap, mb, ma), np.where(swap, ma, mb)
    ya, yb = np.where(swap, sb, sa), np.where(swap, sa, sb)
    d = _ratio((xa * ya).sum(1), ya.sum(1)) - _ratio((xb * yb).sum(1), yb.sum(1))
    extreme = int((np.abs(d) >= abs(observed) - 1e-12).sum())
    return float((1 + extreme) / (1 + resamples))


def paired_bootstrap(a, b, weights_a=None, weights_b=None, *, resamples: int = DEFAULT_RESAMPLES,
                     seed: int = 0) -> float:
    """Two-sided paired bootstrap p-value of equal means: resample items, ``2·min(P(Δ*≤0), P(Δ*≥0))``.

    >>> paired_bootstrap([1] * 30, [0] * 30) < 0.01
    True
    """
    ma, mb, sa, sb = _paired(a, b, weights_a, weights_b)
    if np.allclose(ma, mb) and np.allclose(sa, sb):
        return 1.0
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ma.size, size=(resamples, ma.size))
    d = _ratio((ma[idx] * sa[idx]).sum(1), sa[idx].sum(1)) - _ratio((mb[idx] * sb[idx]).sum(1), sb[idx].sum(1))
    p = 2 * min((d <= 0).mean(), (d >= 0).mean())
    return float(min(1.0, max(p, 1.0 / (1 + resamples))))


def binomial_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), exactly summed. ``binomial_cdf(1, 10)`` → 11/1024."""
    return float(sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1)))


def mcnemar_exact(a, b) -> float:
    """Exact (binomial) McNemar test for paired 0/1 outcomes; returns the two-sided p-value.

    Only discordant pairs count: b01 = #(a=0, b=1), b10 = #(a=1, b=0);
    ``p = min(1, 2·P(X ≤ min(b01, b10)))`` with X ~ Binomial(b01 + b10, 1/2).

    >>> mcnemar_exact([1] * 9 + [0], [0] * 9 + [1])   # 9 vs 1 discordant pairs: 2·11/1024
    0.021484375
    """
    x, y = np.asarray(a).ravel(), np.asarray(b).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired outcomes need the same items: {x.size} vs {y.size}")
    if not (np.isin(x, (0, 1)).all() and np.isin(y, (0, 1)).all()):
        raise ValueError("McNemar's test needs 0/1 outcomes")
    b10 = int(((x == 1) & (y == 0)).sum())
    b01 = int(((x == 0) & (y == 1)).sum())
    n = b01 + b10
    if n == 0:
        return 1.0
    return min(1.0, 2 * binomial_cdf(min(b01, b10), n))


def is_binary(values) -> bool:
    """Whether every value is 0 or 1. ``is_binary([0, 1, 1])`` → True."""
    a = np.asarray(values, dtype=float)
    return bool(a.size and np.isin(a, (0.0, 1.0)).all())


@dataclass(frozen=True)
class PairedResult:
    """A paired comparison: the test used, its p-value and the mean difference (a − b)."""

    test: str
    p: float
    diff: float


def paired_test(a, b, weights_a=None, weights_b=None, *, resamples: int = DEFAULT_RESAMPLES,
                seed: int = 0) -> PairedResult:
    """Exact McNemar for one seed of unweighted pass/fail outcomes each, else the paired permutation test.

    >>> paired_test([1] * 9 + [0], [0] * 9 + [1]).test
    'mcnemar'
    """
    a2, b2 = _as_2d(a, "a"), _as_2d(b, "b")
    diff = item_mean(a2, weights_a) - item_mean(b2, weights_b)
    if (a2.shape[0] == b2.shape[0] == 1 and weights_a is None and weights_b is None
            and is_binary(a2) and is_binary(b2)):
        return PairedResult("mcnemar", mcnemar_exact(a2, b2), diff)
    return PairedResult("permutation", paired_permutation(a2, b2, weights_a, weights_b, resamples=resamples,
                                                          seed=seed), diff)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """τ-bench's unbiased pass^k of one task: C(c, k) / C(n, k) for c passes in n trials.

    >>> pass_hat_k(4, 2, 2)   # C(2,2)/C(4,2) = 1/6
    0.16666666666666666
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n trials, got k={k}, n={n}")
    return math.comb(c, k) / math.comb(n, k)


def pass_hat_k_mean(trials, k: int) -> float:
    """Mean pass^k over tasks from a ``(n_trials, n_tasks)`` 0/1 array (one row per sampled trial).

    >>> pass_hat_k_mean([[1, 1], [1, 0], [0, 1], [1, 1]], 2)   # tasks: 3/4 pass → 1/2 each
    0.5
    """
    t = _as_2d(trials, "trials")
    if not is_binary(t):
        raise ValueError("pass^k needs 0/1 trial outcomes")
    n = t.shape[0]
    return float(np.mean([pass_hat_k(n, int(c), k) for c in t.sum(axis=0)]))


__all__ = ["mean_std", "item_mean", "bootstrap_ci", "paired_permutation", "paired_bootstrap", "binomial_cdf",
           "mcnemar_exact", "is_binary", "PairedResult", "paired_test", "pass_hat_k", "pass_hat_k_mean"]
