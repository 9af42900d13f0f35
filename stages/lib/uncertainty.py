"""How far a test-set result can be trusted: intervals and paired tests, from scipy and statsmodels.

- An accuracy is a count of right answers out of the test images: its interval is the Wilson
  score interval of the binomial (scipy.stats.binomtest).
- Every other metric (loss, top-k accuracy, precision, recall, F1) gets a percentile bootstrap
  over the test images (scipy.stats.bootstrap), seeded here: the same predictions give the
  same interval byte for byte.
- Two models answered the same test images: whether they differ is the exact McNemar test on
  the images only one of them got right (statsmodels), and over several comparisons Holm's
  correction keeps the chance of any false "differs" at 5% (statsmodels).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from stages.lib.errors import InputError

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE  # a paired test's level, after Holm's correction
RESAMPLES = 1000  # bootstrap resamples: the interval's ends move by about 0.001 between seeds at 10,000 images
SEED = 0  # the bootstrap's own seed, whatever the run's
METHODS = (
    f"{CONFIDENCE:.0%} intervals: accuracy by the Wilson score interval (scipy.stats.binomtest), the other "
    f"metrics by a percentile bootstrap over the test images ({RESAMPLES} resamples, seed {SEED}; "
    "scipy.stats.bootstrap)"
)


def _rounded(values) -> list[float]:
    return [round(float(value), 6) for value in values]


def proportion_interval(successes: int, trials: int) -> list[float]:
    """The Wilson score interval of `successes` out of `trials`."""
    from scipy.stats import binomtest

    found = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return _rounded((found.low, found.high))


def bootstrap_intervals(statistic, images: int) -> np.ndarray:
    """Intervals of the values `statistic(indices)` returns for resamples of the `images` test
    images, where `indices` holds one resample per row and the result one column per resample
    (a value per row): an array of [low, high] rows, one per value."""
    from scipy.stats import bootstrap

    if images < 2:
        raise InputError(f"{images} test image{'' if images == 1 else 's'}: too few for an interval")
    with warnings.catch_warnings():
        # A statistic that never varies (every resample right) has the interval [value, value].
        warnings.simplefilter("ignore", RuntimeWarning)
        found = bootstrap(
            (np.arange(images),),
            lambda indices, axis=-1: np.asarray(statistic(indices), dtype=np.float64),
            n_resamples=RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            vectorized=True,
            batch=100,  # resamples at a time: 100 x 10,000 images of indices is 8 MB
            rng=np.random.default_rng(SEED),
        ).confidence_interval
    return np.column_stack([np.atleast_1d(found.low), np.atleast_1d(found.high)]).round(6)


def mcnemar_pvalue(right_a: np.ndarray, right_b: np.ndarray) -> float:
    """The exact McNemar test of two models' right (True) and wrong answers on the same images:
    the two-sided p-value that the images only A got right and those only B got right are
    equally likely. Identical answers give 1."""
    from statsmodels.stats.contingency_tables import mcnemar

    right_a, right_b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    table = [
        [np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
        [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)],
    ]
    return float(mcnemar(table, exact=True).pvalue)


def holm(pvalues) -> list[float]:
    """Holm's step-down adjustment of `pvalues` (a list): reject where the adjusted value < ALPHA."""
    from statsmodels.stats.multitest import multipletests

    if not len(pvalues):
        return []
    return [float(p) for p in multipletests(list(pvalues), alpha=ALPHA, method="holm")[1]]


def difference_interval(right_a: np.ndarray, right_b: np.ndarray) -> list[float]:
    """The interval of B's accuracy minus A's on the same images (a paired bootstrap)."""
    right_a, right_b = np.asarray(right_a, dtype=np.float64), np.asarray(right_b, dtype=np.float64)
    ((low, high),) = bootstrap_intervals(lambda i: [right_b[i].mean(axis=1) - right_a[i].mean(axis=1)], len(right_a))
    return _rounded((low, high))


def paired_tests(right: dict[str, np.ndarray], pairs) -> list[dict]:
    """Each pair of runs (first, second) on the same images: the images only one of them got right,
    McNemar's p, Holm's p over all the `pairs`, and whether they differ."""
    raw = [mcnemar_pvalue(right[first], right[second]) for first, second in pairs]
    return [
        {
            "only_first_right": int(np.sum(right[first] & ~right[second])),
            "only_second_right": int(np.sum(~right[first] & right[second])),
            "p": _significant(p),
            "p_holm": _significant(adjusted),
            "differs": adjusted < ALPHA,
        }
        for (first, second), p, adjusted in zip(pairs, raw, holm(raw), strict=True)
    ]


def against(right: dict[str, np.ndarray], reference: str) -> dict[str, dict]:
    """Each other run against the `reference` run (paired_tests: first is the reference)."""
    others = [run for run in right if run != reference]
    return dict(zip(others, paired_tests(right, [(reference, run) for run in others]), strict=True))


def mean_interval(values) -> dict:
    """Replicates of one measurement (a run's accuracy over seeds or folds): their number, mean,
    standard deviation and the t interval of the mean (scipy.stats.t); no interval from one value."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean, sd = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
    found = {"n": len(values), "mean": round(mean, 6), "sd": round(sd, 6)}
    if len(values) > 1:
        low, high = (mean, mean) if sd == 0 else stats.t.interval(CONFIDENCE, len(values) - 1, mean, stats.sem(values))
        found.update(low=round(float(low), 6), high=round(float(high), 6))
    return found


def welch_pvalue(first, second) -> float:
    """Welch's t-test of two sets of replicates (unequal variances): whether their means differ.
    Two constant, equal sets give 1."""
    from scipy import stats

    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if np.ptp(first) == np.ptp(second) == 0:
        return 1.0 if first[0] == second[0] else 0.0
    return float(stats.ttest_ind(first, second, equal_var=False).pvalue)


def _significant(p: float) -> float:
    """A p-value to 4 significant digits: small ones stay readable (2.6e-05, not 0.0)."""
    return float(f"{p:.4g}")


def read_answers(text: str, where: str):
    """A predictions.csv that evaluate wrote (`where`: its path, for errors): a DataFrame of
    image, actual, predicted and `right`, one row per test image."""
    import pandas as pd

    try:
        answers = pd.read_csv(io.StringIO(text), usecols=["image", "actual", "predicted"], dtype=str)
    except ValueError as err:
        raise InputError(f"{where}: not a predictions.csv that evaluate wrote ({err})") from None
    return answers.assign(right=answers["actual"] == answers["predicted"])


def read_predictions(path):
    """A run's predictions.csv (read_answers); InputError naming it when it cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: unreadable ({err.__class__.__name__}); not a file evaluate wrote") from None
    return read_answers(text, str(path))


def same_images(first, second) -> bool:
    """Whether two read_answers tables hold the same test images with the same actual classes."""
    return first[["image", "actual"]].equals(second[["image", "actual"]])


def right_answers(answers: dict) -> dict[str, np.ndarray]:
    """Run -> which test images it got right, from each run's read_answers table; InputError if two
    runs were tested on different images (a paired test would compare nothing)."""
    first, *_ = answers
    for run, found in answers.items():
        if not same_images(found, answers[first]):
            raise InputError(
                f"runs {first!r} and {run!r} were tested on different images (their predictions.csv "
                "differ in image or actual class): rerun evaluate for both"
            )
    return {run: found["right"].to_numpy() for run, found in answers.items()}
