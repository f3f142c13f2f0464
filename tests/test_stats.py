"""Golden values of umi_lab.stats on small hand-computed cases."""

import math

import numpy as np
import pytest

from umi_lab.stats import (
    binomial_cdf,
    bootstrap_ci,
    item_mean,
    mcnemar_exact,
    mean_std,
    paired_bootstrap,
    paired_permutation,
    paired_test,
    pass_hat_k,
    pass_hat_k_mean,
)


def test_mean_std_needs_two_seeds_for_a_std():
    mean, std = mean_std([0.6667])
    assert mean == 0.6667 and math.isnan(std)               # never "66.67 ± 0.00" from one seed
    mean, std = mean_std([1.0, 2.0, 3.0])
    assert mean == 2.0 and std == 1.0                       # sample std (ddof=1)


def test_item_mean_weighted_is_the_pooled_rate():
    # two tasks: 1 hallucinated call of 4, 1 of 1 -> pooled 2/5, not the mean of ratios (0.625)
    assert item_mean([0.25, 1.0], [4, 1]) == pytest.approx(0.4)
    assert item_mean([[1, 0], [1, 1]]) == 0.75              # seeds averaged after items


def test_bootstrap_ci_golden_and_seeded():
    assert bootstrap_ci([0.3] * 20) == (pytest.approx(0.3), pytest.approx(0.3))
    a = bootstrap_ci([0, 1] * 50, seed=3)
    assert a == bootstrap_ci([0, 1] * 50, seed=3)           # reproducible
    assert a != bootstrap_ci([0, 1] * 50, seed=4)
    # normal approximation: 0.5 ± 1.96·sqrt(.25/100) = [0.402, 0.598]
    lo, hi = bootstrap_ci([0, 1] * 50, resamples=4000, seed=0)
    assert abs(lo - 0.402) < 0.02 and abs(hi - 0.598) < 0.02


def test_bootstrap_ci_several_seeds_resamples_the_same_items():
    # seed 2 is seed 1 shifted by one: item draws are shared, so the CI is that of the per-item means
    s1 = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 1], dtype=float)
    two = np.stack([s1, s1])
    assert bootstrap_ci(two, seed=7) == bootstrap_ci(s1, seed=7)
    lo, hi = bootstrap_ci(np.stack([s1, 1 - s1]), seed=7)   # items average to 0.5 exactly
    assert lo == pytest.approx(0.5) and hi == pytest.approx(0.5)


def test_mcnemar_exact_textbook_values():
    # 9 vs 1 discordant pairs: 2·(C(10,0)+C(10,1))/2^10 = 22/1024
    assert mcnemar_exact([1] * 9 + [0] + [1] * 5, [0] * 9 + [1] + [1] * 5) == 0.021484375
    assert mcnemar_exact([1, 1, 1], [0, 0, 0]) == 0.25     # 2·(1/8)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == 1.0       # no discordant pair
    assert mcnemar_exact([1] * 5 + [0] * 5, [0] * 5 + [1] * 5) == 1.0
    assert binomial_cdf(1, 10) == 11 / 1024
    scipy_stats = pytest.importorskip("scipy.stats")
    assert mcnemar_exact([1] * 12 + [0] * 3, [0] * 12 + [1] * 3) == pytest.approx(
        scipy_stats.binomtest(3, 15, 0.5).pvalue)
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.5], [1])


def test_paired_permutation():
    assert paired_permutation([0.2, 0.4], [0.2, 0.4]) == 1.0
    # every item better by the same amount: only the identity and the full swap are as extreme
    p = paired_permutation([1.0] * 12, [0.0] * 12, resamples=2000, seed=0)
    assert p < 0.01
    assert p == paired_permutation([1.0] * 12, [0.0] * 12, resamples=2000, seed=0)
    # a one-item difference among 10 cannot be significant
    assert paired_permutation([1] + [0] * 9, [0] * 10, seed=1) > 0.3
    with pytest.raises(ValueError, match="same items"):
        paired_permutation([1, 0], [1, 0, 1])


def test_paired_bootstrap_agrees_in_direction():
    assert paired_bootstrap([1.0] * 30, [0.0] * 30) < 0.01
    assert paired_bootstrap([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert paired_bootstrap([1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1], seed=2) > 0.3


def test_paired_test_chooses_mcnemar_only_for_one_seed_of_pass_fail():
    r = paired_test([1] * 9 + [0], [0] * 9 + [1])
    assert (r.test, r.p, r.diff) == ("mcnemar", 0.021484375, pytest.approx(0.8))
    assert paired_test([[1, 0, 1], [1, 1, 1]], [[0, 0, 1], [0, 0, 1]]).test == "permutation"
    assert paired_test([0.5, 0.7], [0.1, 0.2]).test == "permutation"


def test_pass_hat_k_golden():
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / 6)
    assert pass_hat_k(5, 3, 1) == pytest.approx(3 / 5)      # pass^1 is the pass rate
    assert pass_hat_k(3, 3, 3) == 1.0 and pass_hat_k(3, 2, 3) == 0.0
    # τ-bench: average over tasks; columns are tasks, rows are trials
    assert pass_hat_k_mean([[1, 1], [1, 0], [0, 1], [1, 1]], 2) == pytest.approx(0.5)
    assert pass_hat_k_mean([[1, 0], [1, 0]], 1) == 0.5
    with pytest.raises(ValueError):
        pass_hat_k(2, 1, 3)
