"""The published-results table and the most confused pairs: what the report holds runs against."""

import pandas as pd
import pytest

from stages.lib.architectures import names
from stages.lib.confusion import Confusion, most_confused
from stages.lib.datasets import SOURCES
from stages.lib.errors import InputError
from stages.lib.references import Reference, best_reference, load_references


def test_the_table_names_known_datasets_and_architectures():
    references = load_references()
    assert {(r.dataset, r.architecture) for r in references} >= {
        ("fashion_mnist", name) for name in ("softmax", "mlp", "cnn_intro", "cnn_dropout", "cnn_deep")
    }
    for reference in references:
        assert reference.dataset in SOURCES and reference.architecture in names(), reference
        assert 0.5 < reference.accuracy < 1 and reference.source


def test_best_reference_is_the_highest_of_its_dataset_and_architecture():
    table = [
        Reference("fashion_mnist", "cnn_deep", "small", 0.934, "a"),
        Reference("fashion_mnist", "cnn_deep", "VGG-like", 0.94, "b"),
        Reference("mnist", "cnn_deep", "other data", 0.99, "c"),
    ]
    assert best_reference(table, "fashion_mnist", "cnn_deep").model == "VGG-like"
    assert best_reference(table, "fashion_mnist", "mlp") is None
    assert best_reference(table, "digits", "cnn_deep") is None
    assert table[1].label == "94.0%: VGG-like (b)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("dataset,architecture,model,accuracy\nmnist,mlp,x,0.9\n", "header must be"),
        (
            "dataset,architecture,model,accuracy,source\nmnist,mlp,x,92.5,s\n",
            "line 2: accuracy '92.5' is not a fraction",
        ),
        ("dataset,architecture,model,accuracy,source\nmnist,mlp,x,nan,s\n", "line 2: accuracy 'nan' is not a fraction"),
        ("dataset,architecture,model,accuracy,source\nmnist,mlp,x,high,s\n", "line 2: accuracy 'high' is not a number"),
        ("dataset,architecture,model,accuracy,source\nmnist,mlp,,0.9,s\n", "line 2: needs exactly the columns"),
        ("dataset,architecture,model,accuracy,source\nmnist,mlp,x,0.9,s,extra\n", "line 2: needs exactly the columns"),
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
