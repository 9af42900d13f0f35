"""The published-results table and the most confused pairs: what the report holds runs against."""

import pandas as pd
import pytest

from stages.lib.architectures import names
from stages.lib.confusion import Confusion, most_confused
from stages.lib.datasets import SOURCES
from stages.lib.errors import InputError
from stages.lib.references import COLUMNS, Reference, best_reference, load_references

HEADER = ",".join(COLUMNS)


def test_the_table_names_known_datasets_and_architectures():
    references = load_references()
    assert {(r.dataset, r.architecture) for r in references} >= {
        ("fashion_mnist", name) for name in ("softmax", "mlp", "cnn_intro", "cnn_dropout", "cnn_deep")
    }
    for reference in references:
        assert reference.dataset in SOURCES and reference.architecture in names(), reference
        assert 0.5 < reference.accuracy < 1 and reference.source and "test set" in reference.test_set
        # Each figure can be found again: a page, or a GitHub file pinned to a commit, and the row.
        assert reference.locator.startswith("https://") and ("row" in reference.locator or "'" in reference.locator)


def test_the_withdrawn_figures_are_not_quoted():
    # A validation figure the zalandoresearch README removed in 2018 (e028be6), and a VGG figure no
    # version of it held: the README's VGG16 row reads 0.935.
    figures = {(r.architecture, r.accuracy) for r in load_references()}
    assert ("mlp", 0.9) not in figures and ("cnn_deep", 0.94) not in figures and ("cnn_deep", 0.935) in figures


def test_best_reference_is_the_highest_of_its_dataset_and_architecture():
    table = [
        Reference("fashion_mnist", "cnn_deep", "small", 0.934, "test set", "a", "https://a.org"),
        Reference("fashion_mnist", "cnn_deep", "VGG-like", 0.94, "test set, one run", "b", "https://b.org/x"),
        Reference("mnist", "cnn_deep", "other data", 0.99, "test set", "c", "https://c.org"),
    ]
    assert best_reference(table, "fashion_mnist", "cnn_deep").model == "VGG-like"
    assert best_reference(table, "fashion_mnist", "mlp") is None
    assert best_reference(table, "digits", "cnn_deep") is None
    assert table[1].label == "94.0%: VGG-like, test set, one run (b: https://b.org/x)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dataset,architecture,model,accuracy,source\nmnist,mlp,x,0.9,s\n", "header must be"),
        (f"{HEADER}\nmnist,mlp,x,92.5,t,s,https://a.org\n", "line 2: accuracy '92.5' is not a fraction"),
        (f"{HEADER}\nmnist,mlp,x,nan,t,s,https://a.org\n", "line 2: accuracy 'nan' is not a fraction"),
        (f"{HEADER}\nmnist,mlp,x,high,t,s,https://a.org\n", "line 2: accuracy 'high' is not a number"),
        (f"{HEADER}\nmnist,mlp,,0.9,t,s,https://a.org\n", "line 2: needs exactly the columns"),
        (f"{HEADER}\nmnist,mlp,x,0.9,t,s,https://a.org,extra\n", "line 2: needs exactly the columns"),
        # No locator, or one a reader cannot open at the figure: refused.
        (f"{HEADER}\nmnist,mlp,x,0.9,t,s,\n", "line 2: needs exactly the columns"),
        (f"{HEADER}\nmnist,mlp,x,0.9,t,s,the README\n", "line 2: locator 'the README' is not an https address"),
        (
            f"{HEADER}\nmnist,mlp,x,0.9,t,s,https://github.com/o/r/blob/main/README.md\n",
            "line 2: locator 'https://github.com/o/r/blob/main/README.md' is not an https address "
            "\\(a GitHub file pinned",
        ),
    ],
)
def test_a_bad_table_is_refused_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "published.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        load_references(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    names = ["T-shirt/top", "Shirt", "Coat", "Bag"]
    counts = pd.DataFrame(
        [[80, 15, 5, 0], [20, 70, 5, 5], [0, 5, 95, 0], [0, 0, 0, 100]], index=names, columns=names, dtype="int64"
    )
    pairs = most_confused(counts)
    assert pairs == [
        Confusion("Shirt", "T-shirt/top", 20, 0.2),
        Confusion("T-shirt/top", "Shirt", 15, 0.15),
        Confusion("T-shirt/top", "Coat", 5, 0.05),  # ties keep row, then column order
    ]
    assert str(pairs[0]) == "Shirt -> T-shirt/top: 20 (20.0%)"
    diagonal = pd.DataFrame([[3, 0], [0, 4]], index=["a", "b"], columns=["a", "b"])
    assert most_confused(diagonal) == []


def test_confusion_rows_are_the_actual_class_and_columns_the_predicted_one():
    """An asymmetric case: two images of `ant` taken for `bee`, none the other way."""
    from stages.lib.confusion import confusion_table

    names = ["ant", "bee", "cat"]
    y_true, y_pred = [0, 0, 0, 1, 2], [1, 1, 0, 1, 2]
    counts = confusion_table(y_true, y_pred, names)
    assert counts.index.name == "actual\\predicted"
    assert (counts.loc["ant", "bee"], counts.loc["bee", "ant"]) == (2, 0)
    assert counts.loc["ant"].tolist() == [1, 2, 0]
    fractions = confusion_table(y_true, y_pred, names, normalize=True)
    assert fractions.loc["ant"].tolist() == [0.3333, 0.6667, 0.0] and fractions.loc["bee", "bee"] == 1.0
    assert most_confused(counts) == [Confusion("ant", "bee", 2, 2 / 3)]
