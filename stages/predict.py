"""Classify new images with a packaged model.

    python -m stages.predict models/package.tar.gz my-digits/*.png
    python -m stages.predict models/package photos/ --top-k 3 --out predictions.csv
    python -m stages.predict models/package drawn.png --invert   # dark ink on light paper

PACKAGE is the package folder or its .tar.gz; IMAGES are files, folders
(searched recursively for image files) or glob patterns. The package's
SHA256SUMS must match its files, else nothing runs. Each image is converted
as prepare converted the training images (preprocessing.json: size, colour
mode; pixels scaled to [0, 1]). The package's model.onnx (checked against the
Keras model when it was packaged) runs in onnxruntime: 0.19 s for one image;
`--engine keras`, or a package without model.onnx, loads model.keras in Keras'
safe mode instead: 4.2 s, mostly TensorFlow's import (benchmarks/predict_latency.py).
Writes a CSV (standard output, or --out): file, predicted class and its
probability, then the next classes of the top k with theirs. An unreadable
image is reported by name on standard error and the others are still
classified; the exit status is then 1. So is an image of more than --max-pixels
pixels (a decompression bomb would exhaust the memory). A grey image with the
other background than the training images had (light paper for light-on-dark
digits) is classified with a warning that names it: pass --invert.
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import sys
from functools import partial
from pathlib import Path

import numpy as np

from stages.lib.archive import (
    ONNX_MODEL,
    PackageError,
    onnx_probabilities,
    onnx_session,
    opened_package,
    read_contract,
)
from stages.lib.backend import check_keras_backend
from stages.lib.datasets import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_PIXELS,
    ImageTooLarge,
    load_image,
    skipped_note,
    walk_files,
)
from stages.lib.errors import PipelineError
from stages.lib.files import write_text
from stages.lib.joblog import run_stage


def expand_images(arguments) -> list[Path]:
    """Files as given, folders searched recursively for image files, glob patterns expanded.
    In a folder, as in a dataset's image folder (datasets.walk_files), hidden entries and links
    to folders are skipped, said on stderr, and a link that leads out of the folder is refused."""
    found = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files, skipped = walk_files(path)
            found += [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            if skipped:
                print(skipped_note([str(p) for p in skipped]), file=sys.stderr)
        elif glob.has_magic(argument):
            found += sorted(Path(p) for p in glob.glob(argument, recursive=True) if Path(p).is_file())
        else:
            found.append(path)  # a missing file is reported as unreadable, by name
    return found


def check_out(out, inputs) -> None:
    """Refuse an --out that is one of the command's own inputs (the package, an image): writing
    the CSV there would destroy it."""
    target = Path(out).resolve()
    for path in inputs:
        if Path(path).resolve() == target:
            raise PipelineError(f"--out {out} is {path}, an input of this command; write the CSV to another file")


ENGINES = ("auto", "onnx", "keras")


def predict(
    package,
    images,
    top_k: int = 3,
    invert: bool = False,
    max_pixels: int = MAX_IMAGE_PIXELS,
    engine: str = "auto",
):
    """Classify `images`; return (rows of the CSV, [(image, reason)] for those that failed, the engine
    that ran the model: onnxruntime or Keras)."""
    classify, engine, (height, width, channels), class_names, background = load_package_model(package, engine)
    batch, names, failed = read_images(images, (height, width), channels, invert, max_pixels)
    if not batch:
        return [], failed, engine
    if channels == 1 and background in ("dark", "light"):
        warn_about_background(names, batch, background, invert)
    probabilities = np.asarray(classify(np.stack(batch)), dtype=np.float64)
    if probabilities.shape != (len(batch), len(class_names)):
        raise PackageError(
            f"{package}: the model gives {probabilities.shape[1:]} outputs per image, "
            f"class_names.json names {len(class_names)} classes"
        )
    if not np.isfinite(probabilities).all():  # NaN sorts anywhere: the "best" class would be arbitrary
        raise PackageError(
            f"{package}: the model gives non-finite probabilities (NaN or infinity); "
            "was it trained with a diverging run?"
        )
    k = min(top_k, len(class_names))
    rows = []
    for path, p in zip(names, probabilities, strict=True):
        best = np.argsort(-p, kind="stable")[:k]
        row = {"file": str(path), "predicted": class_names[best[0]], "probability": round(float(p[best[0]]), 6)}
        for rank, c in enumerate(best[1:], start=2):
            row[f"class_{rank}"] = class_names[c]
            row[f"probability_{rank}"] = round(float(p[c]), 6)
        rows.append(row)
    return rows, failed, engine


def load_package_model(package, engine: str = "auto"):
    """(images -> class probabilities, the engine's name, image shape, class names, the training
    images' background) of the package, checked against each other: its model.onnx in onnxruntime
    unless `engine` is keras or there is none, else model.keras in Keras."""
    with opened_package(package) as folder:
        shape, class_names, background = read_contract(folder, package)
        if engine == "onnx" and not (folder / ONNX_MODEL).is_file():
            raise PackageError(f"{package}: no {ONNX_MODEL} (package.exports in params.yaml); try --engine keras")
        if engine != "keras" and (folder / ONNX_MODEL).is_file():
            session = onnx_session(folder / ONNX_MODEL, package)  # read into memory: the folder may go
            expected = tuple(d if isinstance(d, int) else None for d in session.get_inputs()[0].shape[1:])
            classify, name = partial(onnx_probabilities, session), "onnxruntime"
        else:
            model = _keras_model(folder, package)
            expected = model.input_shape[1:]
            classify, name = partial(model.predict, verbose=0), "Keras"
    if len(expected) != 3 or any(m not in (None, n) for m, n in zip(expected, shape, strict=True)):
        raise PackageError(f"{package}: the model takes {expected} inputs, preprocessing.json says {shape}")
    return classify, name, shape, class_names, background


def warn_about_background(names, batch, background: str, invert: bool) -> None:
    """Say on standard error which grey images have the other background than the training images
    had (light paper for a model of light-on-dark digits): such an image is classified, but most
    likely wrongly, and --invert (or leaving it out) is the fix."""
    for path, pixels in zip(names, batch, strict=True):
        if ("light" if float(np.mean(pixels)) > 0.5 else "dark") != background:
            fix = "leave out --invert" if invert else "pass --invert"
            print(
                f"warning: {path}: a mostly {'light' if background == 'dark' else 'dark'} image, but the model "
                f"was trained on {background} backgrounds; its class is likely wrong ({fix})",
                file=sys.stderr,
            )


def _keras_model(folder: Path, package):
    check_keras_backend()
    from stages.lib.layers import load_model  # Keras: imported only when used (4 s with TensorFlow)

    if not (folder / "model.keras").is_file():
        raise PackageError(f"{package}: no model.keras; not a complete package")
    try:
        return load_model(folder / "model.keras")
    except (ValueError, OSError):  # Keras' message names the temporary folder
        raise PackageError(f"{package}: model.keras does not load as a Keras model") from None


def read_images(images, size, channels: int, invert: bool, max_pixels: int):
    """The images as the training images were (size, colour mode, [0, 1]); (pixels, paths, failed)."""
    from PIL import UnidentifiedImageError

    color_mode = "grayscale" if channels == 1 else "rgb"
    batch, names, failed = [], [], []
    for path in images:
        try:
            pixels = load_image(path, size, color_mode, max_pixels=max_pixels).astype(np.float32) / 255.0
        except ImageTooLarge as err:  # its own message names params.yaml's setting, not --max-pixels
            failed.append((path, f"{err.width}x{err.height} pixels, above --max-pixels {err.limit}"))
            continue
        except UnidentifiedImageError:  # Pillow's message repeats the path
            failed.append((path, "not an image"))
            continue
        except (OSError, ValueError, SyntaxError) as err:  # DataError is a ValueError
            reason = getattr(err, "strerror", None) or (str(err).splitlines()[0] if str(err) else type(err).__name__)
            failed.append((path, reason.removeprefix(f"{path}: ")))  # the line names the image once
            continue
        batch.append(1.0 - pixels if invert else pixels)
        names.append(path)
    return batch, names, failed


def to_csv(rows) -> str:
    if not rows:
        return ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="package folder or .tar.gz (models/package.tar.gz)")
    parser.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    parser.add_argument("--top-k", type=int, default=3, help="classes shown per image (default 3)")
    parser.add_argument(
        "--invert",
        action="store_true",
        help="invert the pixels first: dark drawings on light paper, for light-on-dark data",
    )
    parser.add_argument("--out", help="write the CSV here instead of printing it")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help=f"auto (default): the package's {ONNX_MODEL} in onnxruntime if it has one, else Keras",
    )
    parser.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=MAX_IMAGE_PIXELS,
        help=f"refuse images with more pixels than this (default {MAX_IMAGE_PIXELS})",
    )
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error("--top-k must be at least 1")
    done = {}

    def body():
        images = expand_images(args.images)
        if not images:
            raise PipelineError("no image files found in " + " ".join(args.images))
        if args.out:
            check_out(args.out, [args.package, *images])
        done["images"] = images
        done["result"] = predict(args.package, images, args.top_k, args.invert, args.max_pixels, args.engine)

    # One line for a user's mistake or Ctrl-C (before the CSV is written: an earlier --out file
    # stays as it was), a traceback for a bug: as every stage.
    if status := run_stage(body, None, code=2, interrupted="no CSV was written"):
        return status
    images, (rows, failed, engine) = done["images"], done["result"]
    text = to_csv(rows)
    if args.out and rows:  # nothing classified: an earlier --out file stays as it was
        try:
            write_text(args.out, text)
        except OSError as err:
            print(f"error: --out {args.out}: cannot write it ({err.strerror})", file=sys.stderr)
            return 2
    elif not args.out:
        print(text, end="")
    for path, reason in failed:
        print(f"error: {path}: cannot read the image ({reason})", file=sys.stderr)
    print(f"classified {len(rows)} of {len(images)} images with {engine}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
