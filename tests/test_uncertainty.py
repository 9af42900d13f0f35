"""Intervals and paired tests (stages.lib.uncertainty, stages.lib.scores): known answers."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from stages.compare import compare, verdicts
from stages.lib.errors import InputError
from stages.lib.scores import _resampler
from stages.lib.uncertainty import (
    against,
    bootstrap_intervals,
    difference_interval,
    holm,
    mcnemar_pvalue,
    proportion_interval,
    read_answers,
)


def _answers(right_a: int, right_b: int, both: int, images: int):
    """Right/wrong arrays of two models on `images` images: `both` right for both, then `right_a` only
    for A, then `right_b` only for B, the rest wrong for both."""
    a = np.zeros(images, dtype=bool)
    b = np.zeros(images, dtype=bool)
    a[:both] = b[:both] = True
    a[both : both + right_a] = True
    b[both + right_a : both + right_a + right_b] = True
    return a, b


def test_exact_mcnemar_on_a_small_table_computed_by_hand():
    # 1 image only A got right, 6 only B: under "equally likely", P(X <= 1 | n = 7, 1/2) = (1 + 7) / 2**7,
    # and the two-sided p doubles it: 16 / 128.
    assert mcnemar_pvalue(*_answers(1, 6, both=50, images=80)) == pytest.approx(16 / 128)
    # 0 against 5: 2 / 2**5.
    assert mcnemar_pvalue(*_answers(0, 5, both=10, images=20)) == pytest.approx(2 / 32)
    # The images both got right, or both wrong, do not count.
    assert mcnemar_pvalue(*_answers(1, 6, both=0, images=7)) == pytest.approx(16 / 128)


def test_identical_answers_give_p_one():
    right = np.array([True, False, True, True])
    assert mcnemar_pvalue(right, right) == 1.0
    assert against({"a": right, "b": right.copy()}, "a")["b"] == {
        "only_first_right": 0,
        "only_second_right": 0,
        "p": 1.0,
        "p_holm": 1.0,
        "differs": False,
    }


def test_holm_adjusts_step_down():
    # Sorted 0.01, 0.03, 0.04: times 3, 2 and 1, each at least the one before: 0.03, 0.06, 0.06.
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []


def test_against_the_best_corrects_over_all_runs():
    best, weak = _answers(12, 0, both=80, images=100)  # the best got 12 images more right
    _, close = _answers(1, 0, both=91, images=100)
    found = against({"best": best, "weak": weak, "close": close}, "best")
    assert found["weak"]["only_first_right"] == 12 and found["weak"]["differs"]
    assert found["weak"]["p"] == pytest.approx(2 / 2**12, abs=1e-6)
    assert found["weak"]["p_holm"] == pytest.approx(2 * 2 / 2**12, abs=1e-6)
    assert not found["close"]["differs"] and found["close"]["p"] == 1.0


def test_wilson_interval_of_a_known_proportion():
    # 9 of 10 right: Wilson's 95% interval, by hand: (0.9 + z²/20 ± z √(0.009 + z²/400)) / (1 + z²/10), z = 1.96.
    assert proportion_interval(9, 10) == pytest.approx([0.595852, 0.982128], abs=1e-5)
    assert proportion_interval(10, 10)[1] == 1.0


def test_bootstrap_is_seeded_and_holds_the_mean():
    values = np.linspace(0, 1, 200)
    first = bootstrap_intervals(lambda i: [values[i].mean(axis=1)], 200)
    assert np.array_equal(first, bootstrap_intervals(lambda i: [values[i].mean(axis=1)], 200))
    (low, high), *_ = first
    assert low < 0.5 < high and high - low < 0.2
    with pytest.raises(InputError, match="1 test image: too few for an interval"):
        bootstrap_intervals(lambda i: [values[i].mean(axis=1)], 1)


def test_difference_interval_of_two_versions():
    before, after = _answers(0, 30, both=500, images=1000)  # B right on 30 more images: +0.03
    low, high = difference_interval(before, after)
    assert 0 < low < 0.03 < high
    assert difference_interval(before, before) == [0.0, 0.0]


def test_the_bootstrap_statistic_counts_as_scikit_learn_does():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 400), rng.integers(0, 5, 400)
    y_pred[:200] = y_true[:200]
    y_true[y_true == 4] = 3  # class 4 never actual, still predicted
    scored = np.array([0, 1, 2, 3])
    statistic = _resampler(y_true, y_pred, 5, scored, {"x": np.ones(400)})
    resamples = np.stack([np.arange(400), rng.integers(0, 400, 400)])
    found = statistic(resamples)
    for column, indices in enumerate(resamples):
        expected = [1.0]
        for average in ("macro", "weighted"):
            expected += precision_recall_fscore_support(
                y_true[indices], y_pred[indices], labels=scored, average=average, zero_division=0
            )[:3]
        expected += list(
            np.concatenate(
                precision_recall_fscore_support(y_true[indices], y_pred[indices], labels=scored, zero_division=0)[:3]
            )
        )
        assert found[:, column] == pytest.approx(expected)


def _predictions(actual, predicted) -> pd.DataFrame:
    text = "image,actual,predicted,p_a\n" + "".join(
        f"{i},{a},{p},0.5\n" for i, (a, p) in enumerate(zip(actual, predicted, strict=True))
    )
    return read_answers(text, "predictions.csv")


def test_compare_says_whether_a_run_changed_more_than_noise():
    actual = ["a", "b"] * 100
    before = _predictions(actual, actual[:150] + ["x"] * 50)  # 150 right; "up": 50 more, p = 2 / 2**50, Holm: x 2
    much_better = _predictions(actual, actual)  # 200 right: 50 images more
    nearly = _predictions(actual, actual[:151] + ["x"] * 49)  # 1 image more
    other_images = _predictions(["b", "a"] * 100, actual)
    found = verdicts(
        {"up": before, "same": before, "close": before, "moved": before},
        {"up": much_better, "same": before, "close": nearly, "moved": other_images},
    )
    assert found["up"].startswith("changed significantly (p = 3.6e-15; Δ accuracy 95% CI [+0.")
    assert found["close"].startswith("within noise (p = 1; Δ accuracy 95% CI [+0.0000, +0.0150])")
    assert found["same"] == "same predictions"
    assert found["moved"] == "not tested: the test images differ"
    metrics = {"up": {"accuracy": 0.75}, "same": {"accuracy": 0.75}, "close": {"accuracy": 0.75}, "moved": {}}
    table = compare(metrics, {**metrics, "up": {"accuracy": 1.0}}, ["accuracy"], verdict=found)
    assert "| up | 0.7500 → 1.0000 | +0.2500 | changed significantly (p = " in table
    assert "exact McNemar test" in table
