"""Image folders: pre-split train/ test/ (val/) layouts, classes left without readable images,
splits and subsamples too small for a class, and oversized images (decompression bombs)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.model_selection import train_test_split

from stages.download import download
from stages.lib.datasets import DataError, folder_splits, load_image
from stages.lib.settings import PrepareSettings
from stages.lib.splits import load_split
from stages.prepare import prepare, split_stratified, subsample

ROOT = Path(__file__).resolve().parent.parent
FOLDER = {
    "seed": 1,
    "val_fraction": 0.25,
    "test_fraction": 0.2,
    "train_subsample": None,
    "image_size": [8, 8],
    "color_mode": "grayscale",
    "skip_unreadable": False,
}


def write_images(root: Path, counts: dict[str, int], start: int = 0) -> int:
    """Grey 8x8 PNGs, each one flat value (start, start + 1, ...) in class then file order."""
    value = start
    for name, n in counts.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(np.full((8, 8), value, np.uint8), "L").save(root / name / f"{i:02d}.png")
            value += 1
    return value


def huge_png(path: Path, width: int, height: int) -> None:
    """A small PNG whose header claims width x height pixels (as a decompression bomb's does)."""
    buffer = Path(path).with_suffix(".tmp")
    Image.new("L", (4, 4)).save(buffer, "PNG")
    data = bytearray(buffer.read_bytes())
    buffer.unlink()
    data[16:24] = struct.pack(">II", width, height)  # IHDR: signature, length, "IHDR", width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # the chunk's CRC over type and data
    path.write_bytes(bytes(data))


def raw_folder(tmp_path: Path, folder: Path) -> Path:
    download("folder", tmp_path / "raw", folder=str(folder))
    return tmp_path / "raw"


# ------------------------------------------------------------ pre-split folders


def test_pre_split_folder_keeps_its_test_split(tmp_path):
    end = write_images(tmp_path / "src" / "train", {"cat": 8, "dog": 6})
    write_images(tmp_path / "src" / "test", {"cat": 3, "dog": 2}, start=end)
    manifest = download("folder", tmp_path / "raw", folder=str(tmp_path / "src"))
    assert manifest["class_names"] == ["cat", "dog"] and manifest["splits"] == ["train", "test"]
    assert "images/test/dog/01.png" in manifest["contents"]

    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**FOLDER))
    assert metadata["official_test_split"] and metadata["class_names"] == ["cat", "dog"]
    assert metadata["counts"]["test"] == {"cat": 3, "dog": 2}
    assert {c: metadata["counts"]["train"][c] + metadata["counts"]["val"][c] for c in ("cat", "dog")} == {
        "cat": 8,
        "dog": 6,
    }
    x, y = load_split(tmp_path / "prepared", "test")
    assert (x[:, 0, 0, 0] * 255).round().tolist() == list(range(end, end + 5))  # the folder's test images, in order
    assert y.tolist() == [0, 0, 0, 1, 1]


def test_pre_split_folder_with_val_uses_it_instead_of_val_fraction(tmp_path, capsys):
    end = write_images(tmp_path / "src" / "train", {"cat": 4, "dog": 5})
    end = write_images(tmp_path / "src" / "val", {"cat": 1, "dog": 2}, start=end)
    write_images(tmp_path / "src" / "test", {"cat": 2, "dog": 1}, start=end)
    metadata = prepare(raw_folder(tmp_path, tmp_path / "src"), tmp_path / "prepared", PrepareSettings(**FOLDER))
    assert metadata["counts"] == {
        "train": {"cat": 4, "dog": 5},
        "val": {"cat": 1, "dog": 2},
        "test": {"cat": 2, "dog": 1},
    }
    assert "split.val_fraction is not used" in capsys.readouterr().out
    x, _ = load_split(tmp_path / "prepared", "train")
    assert (x[:, 0, 0, 0] * 255).round().tolist() == list(range(9))


def test_pre_split_folders_must_have_the_same_classes(tmp_path):
    write_images(tmp_path / "src" / "train", {"cat": 2, "dog": 2})
    write_images(tmp_path / "src" / "test", {"dog": 1, "kat": 1})
    with pytest.raises(DataError) as err:
        download("folder", tmp_path / "raw", folder=str(tmp_path / "src"))
    assert str(err.value) == f"{tmp_path / 'src' / 'test'}: classes differ from train/: missing 'cat', extra 'kat'"
    assert not (tmp_path / "raw").exists()


def test_only_train_and_test_folders_of_class_folders_are_a_pre_split_dataset(tmp_path):
    # Classes that happen to be called train and test (images directly inside): two classes, as before.
    write_images(tmp_path / "plain", {"test": 2, "train": 3})
    classes, splits, _ = folder_splits(tmp_path / "plain")
    assert classes == ["test", "train"] and list(splits) == ["all"] and len(splits["all"]) == 5
    # A third folder beside train/ and test/: a class per folder.
    write_images(tmp_path / "three" / "train", {"a": 1})
    write_images(tmp_path / "three" / "test", {"a": 1})
    write_images(tmp_path / "three", {"other": 1})
    classes, splits, _ = folder_splits(tmp_path / "three")
    assert classes == ["other", "test", "train"] and list(splits) == ["all"]
    # train/ of class folders but test/ of images: not read as two classes without a word.
    write_images(tmp_path / "half" / "train", {"a": 1, "b": 1})
    write_images(tmp_path / "half", {"test": 1})
    with pytest.raises(DataError, match=r"half/test: needs one subfolder per class, found 0$"):
        folder_splits(tmp_path / "half")


# ------------------------------------------------------------ classes without readable images


def test_class_without_readable_images_is_refused_by_name(tmp_path):
    write_images(tmp_path / "src", {"dog": 4, "emu": 4})
    (tmp_path / "src" / "cat").mkdir()
    for name in ("a", "b", "c", "d"):
        (tmp_path / "src" / "cat" / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    with pytest.raises(DataError) as err:
        prepare(
            raw_folder(tmp_path, tmp_path / "src"),
            tmp_path / "prepared",
            PrepareSettings(**{**FOLDER, "skip_unreadable": True}),
        )
    assert str(err.value) == (
        "class 'cat' has no readable images (4 unreadable skipped: cat/a.png, cat/b.png, cat/c.png, ...)"
    )
    assert not (tmp_path / "prepared").exists()


# ------------------------------------------------------------ splits too small for a class


@pytest.mark.parametrize(
    "counts, val, test, message",
    [
        (
            [1, 20, 20],
            0.15,
            0.15,
            "class 'cat' has 1 image; split.test_fraction 0.15 by class needs at least 2 per class",
        ),
        (
            [14, 13, 13],
            0.2,
            0.05,
            "split.test_fraction 0.05 of 40 images gives 2 test images, fewer than the 3 classes",
        ),
        (
            [14, 13, 13],
            0.05,
            0.2,
            "split.val_fraction 0.05 of 40 images gives 2 validation images, fewer than the 3 classes",
        ),
        (
            [2, 2, 2],
            0.1,
            0.5,
            "class 'cat' has 1 image outside the test split; "
            "split.val_fraction 0.1 by class needs at least 2 per class",
        ),
        (
            [3, 3, 3],
            0.1,
            0.8,
            "split.test_fraction 0.8 of 9 images leaves 1 training and validation image, fewer than the 3 classes",
        ),
    ],
)
def test_split_too_small_for_a_class_names_it_and_the_setting(counts, val, test, message):
    labels = np.repeat(np.arange(3), counts)
    with pytest.raises(DataError) as err:
        split_stratified(labels, val, test, seed=1, class_names=["cat", "dog", "emu"])
    assert str(err.value) == message


def test_val_split_of_a_pre_split_folder_names_the_class(tmp_path):
    write_images(tmp_path / "src" / "train", {"cat": 1, "dog": 4})
    write_images(tmp_path / "src" / "test", {"cat": 1, "dog": 1})
    with pytest.raises(DataError) as err:
        prepare(raw_folder(tmp_path, tmp_path / "src"), tmp_path / "prepared", PrepareSettings(**FOLDER))
    assert str(err.value) == (
        "class 'cat' has 1 image for training; split.val_fraction 0.25 by class needs at least 2 per class"
    )


# ------------------------------------------------------------ train_subsample


def test_train_subsample_below_the_class_count_is_refused(tmp_path):
    write_images(tmp_path / "src", {"cat": 5, "dog": 5, "emu": 5})
    with pytest.raises(DataError) as err:
        prepare(
            raw_folder(tmp_path, tmp_path / "src"),
            tmp_path / "prepared",
            PrepareSettings(**{**FOLDER, "train_subsample": 2}),
        )
    assert str(err.value) == "data.train_subsample 2 is fewer than the 3 classes; keep at least one image per class"
    assert not (tmp_path / "prepared").exists()


def test_train_subsample_just_below_the_training_images_works():
    labels = np.repeat(np.arange(3), [10, 6, 4])
    index = np.arange(0, 40, 2)  # the training part: every other image of a larger array
    full = np.repeat(labels, 2)
    kept = subsample(index, full, 18, seed=5)  # 2 left out: fewer than the 3 classes sklearn needs
    assert len(kept) == 18 and set(kept) <= set(index) and np.all(np.diff(kept) > 0)
    assert np.bincount(full[kept]).tolist() == [9, 5, 4]  # one each from the two largest classes
    assert np.array_equal(kept, subsample(index, full, 18, seed=5))
    # A value that worked before gives what it gave before: sklearn's stratified choice.
    expected, _ = train_test_split(index, train_size=12, stratify=full[index], random_state=5)
    assert np.array_equal(subsample(index, full, 12, seed=5), np.sort(expected))


# ------------------------------------------------------------ oversized images


@pytest.mark.parametrize("side", [10_000, 30_000])  # above Pillow's warning limit; above its error limit
def test_oversized_image_is_refused_before_decoding(tmp_path, side):
    huge_png(tmp_path / "big.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's DecompressionBombWarning must not be what is seen
        with pytest.raises(DataError) as err:
            load_image(tmp_path / "big.png", (8, 8), "grayscale")
    assert str(err.value) == (
        f"{tmp_path / 'big.png'}: {side}x{side} pixels is above the limit of 89,478,485 "
        "(data.max_image_pixels; it guards against decompression bombs)"
    )


def test_our_limit_replaces_pillows(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(DataError, match=r"a.png: 20x20 pixels is above the limit of 399 "):
        load_image(tmp_path / "a.png", (8, 8), "grayscale", max_pixels=399)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow would refuse 400 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(tmp_path / "a.png", (8, 8), "grayscale", max_pixels=400).shape == (8, 8, 1)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


def test_prepare_counts_oversized_images_as_unreadable(tmp_path):
    write_images(tmp_path / "src", {"cat": 3, "dog": 3})
    huge_png(tmp_path / "src" / "cat" / "big.png", 12_000, 12_000)
    (tmp_path / "src" / "cat" / "x.png").write_bytes(b"not an image")
    raw = raw_folder(tmp_path, tmp_path / "src")
    with pytest.raises(DataError) as err:
        prepare(raw, tmp_path / "prepared", PrepareSettings(**FOLDER))
    assert str(err.value) == (
        "2 unreadable image(s): cat/big.png (12000x12000 pixels, above data.max_image_pixels "
        "89,478,485), cat/x.png (not an image); set data.skip_unreadable: true to skip them"
    )
    metadata = prepare(raw, tmp_path / "prepared", PrepareSettings(**{**FOLDER, "skip_unreadable": True}))
    assert metadata["skipped_unreadable"] == ["cat/big.png", "cat/x.png"]
    # The limit comes from the prepare config (data.max_image_pixels): 8x8 images above 63 pixels.
    with pytest.raises(
        DataError,
        match=r"^8 unreadable image\(s\): cat/00.png \(8x8 pixels, above "
        r"data.max_image_pixels 63\), ",
    ):
        prepare(raw, tmp_path / "p2", PrepareSettings(**{**FOLDER, "max_image_pixels": 63}))


# ------------------------------------------------------------ what the user sees


@pytest.mark.parametrize(
    "layout, config, message",
    [
        (
            {"train": {"cat": 4, "dog": 4}, "test": {"cat": 1, "dog": 1}},
            {"train_subsample": 1},
            "data.train_subsample 1 is fewer than the 2 classes; keep at least one image per class",
        ),
        (
            {"": {"cat": 1, "dog": 9}},
            {},
            "class 'cat' has 1 image; split.test_fraction 0.2 by class needs at least 2 per class",
        ),
    ],
)
def test_prepare_command_fails_in_one_line(tmp_path, layout, config, message):
    for split, counts in layout.items():
        write_images(tmp_path / "src" / split, counts)
    raw = raw_folder(tmp_path, tmp_path / "src")
    (tmp_path / "prepare.json").write_text(json.dumps({**FOLDER, **config}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stages.prepare",
            "--config",
            str(tmp_path / "prepare.json"),
            "--raw",
            str(raw),
            "--out",
            str(tmp_path / "prepared"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and result.stderr == f"error: {message}\n"
    assert not (tmp_path / "prepared").exists()
