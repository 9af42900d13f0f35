"""Dataset sources (where the published files are, their pinned checksums) and parsers.

A `Source` lists a dataset's files exactly as they are published; `download`
fetches and verifies them, `prepare` parses them with the parser that the
source names. Parsers read the published formats themselves (IDX, the CIFAR
binary version, scikit-learn's digits CSV, image folders): nothing is
unpickled and `keras.datasets` is not used.

A parser returns a `Parsed`: the dataset's official splits, {"train": (x, y),
"test": (x, y)}, with "val" where an image folder has one, or {"all": (x, y)}
when it has none, with x as uint8 N x H x W x C and y as int64, the class names and the pixel maximum.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stages.lib.errors import PipelineError
from stages.lib.settings import MAX_IMAGE_PIXELS


class DataError(PipelineError):
    """A data file is missing, corrupt or in the wrong format; one-line message."""


class ImageTooLarge(DataError):
    """An image whose header promises more pixels than the limit; raised before decoding."""

    def __init__(self, path, width: int, height: int, limit: int):
        super().__init__(
            f"{path}: {width}x{height} pixels is above the limit of {limit:,}"
            " (data.max_image_pixels; it guards against decompression bombs)"
        )
        self.width, self.height, self.limit = width, height, limit


@dataclass(frozen=True)
class FileSpec:
    sha256: str  # of the published file
    content_sha256: str | None = None  # of the decompressed content (gzip files)
    shape: tuple[int, ...] | None = None  # IDX dimensions, checked in the header


@dataclass(frozen=True)
class Source:
    name: str
    format: str  # a key of PARSERS
    files: dict[str, FileSpec]  # published file name -> what it must be
    base: str  # URL or local folder the files are fetched from
    description: str
    class_names: tuple[str, ...] = ()  # empty: the parser reads them from the data
    archives: tuple[str, ...] = field(default=())  # files that download extracts


@dataclass
class Parsed:
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    class_names: list[str]
    max_value: int = 255  # the format's white: prepare divides by it
    skipped: list[str] = field(default_factory=list)  # unreadable files left out


# ---------------------------------------------------------------- IDX (MNIST family)

IDX_TYPES = {0x08: np.uint8}


def open_maybe_gzip(path: Path):
    """Open a file for reading, decompressing it when it starts with the gzip magic."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: Path, expect_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip) into an array; check header, size and shape."""
    path = Path(path)
    try:
        with open_maybe_gzip(path) as handle:
            data = handle.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path.name}: unreadable or truncated ({err})") from None
    return parse_idx_bytes(data, path.name, expect_shape)


def parse_idx_bytes(data: bytes, name: str, expect_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """IDX: two zero bytes, a type code (0x08: unsigned byte), the number of dimensions,
    one big-endian uint32 per dimension, then the values in row-major order."""
    if len(data) < 4:
        raise DataError(f"{name}: {len(data)} bytes, too short for an IDX file")
    if data[:2] != b"\0\0" or data[2] not in IDX_TYPES:
        raise DataError(f"{name}: not an IDX file of unsigned bytes (header {data[:4].hex()})")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{name}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    body = memoryview(data)[4 + 4 * ndim :]
    expected = int(np.prod(dims))
    if len(body) != expected:
        raise DataError(
            f"{name}: header promises {expected:,} bytes of data {dims}, found {len(body):,}"
            f" ({'truncated' if len(body) < expected else 'trailing bytes'})"
        )
    if expect_shape is not None and tuple(dims) != tuple(expect_shape):
        raise DataError(f"{name}: IDX dimensions {dims}, expected {tuple(expect_shape)}")
    return np.frombuffer(body, dtype=IDX_TYPES[data[2]]).reshape(dims)


def parse_idx(raw_dir: Path, manifest: dict):
    """MNIST layout: {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz."""
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(raw_dir / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte.gz")
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{prefix}: {images.shape} images do not match {labels.shape} labels")
        splits[split] = (images[..., None], labels.astype(np.int64))
    return Parsed(splits, manifest["class_names"])


# ---------------------------------------------------------------- CIFAR binary version

CIFAR_PIXELS = 32 * 32 * 3


def read_cifar_binary(path: Path, label_bytes: int, label_index: int):
    """Records of `label_bytes` label bytes then 3,072 pixels (1,024 R, G, B, row-major)."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise DataError(f"{path.name}: unreadable ({err.strerror})") from None
    record = label_bytes + CIFAR_PIXELS
    if data.size == 0 or data.size % record:
        raise DataError(f"{path.name}: {data.size:,} bytes is not a whole number of {record}-byte records")
    records = data.reshape(-1, record)
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), records[:, label_index].astype(np.int64)


def _label_names(path: Path, count: int) -> list[str]:
    try:
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    except OSError as err:
        raise DataError(f"{path.name}: unreadable ({err.strerror})") from None
    if len(names) != count:
        raise DataError(f"{path.name}: {len(names)} class names, expected {count}")
    return names


def parse_cifar10_binary(raw_dir: Path, manifest: dict):
    root = raw_dir / "cifar-10-batches-bin"
    parts = [read_cifar_binary(root / f"data_batch_{i}.bin", 1, 0) for i in range(1, 6)]
    train = (np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts]))
    test = read_cifar_binary(root / "test_batch.bin", 1, 0)
    return Parsed({"train": train, "test": test}, _label_names(root / "batches.meta.txt", 10))


def parse_cifar100_binary(raw_dir: Path, manifest: dict):
    root = raw_dir / "cifar-100-binary"
    # Each record holds the coarse label (20 superclasses), then the fine one (100 classes).
    splits = {split: read_cifar_binary(root / f"{split}.bin", 2, 1) for split in ("train", "test")}
    return Parsed(splits, _label_names(root / "fine_label_names.txt", 100))


# ---------------------------------------------------------------- scikit-learn digits


def parse_digits_csv(raw_dir: Path, manifest: dict):
    """scikit-learn's digits.csv.gz: one image per row, 64 pixels (0-16) then the label."""
    path = raw_dir / "digits.csv.gz"
    try:
        with gzip.open(path, "rt") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, ValueError) as err:
        raise DataError(f"{path}: not a readable digits CSV ({err})") from None
    if table.shape[1] != 65:
        raise DataError(f"{path}: expected 65 columns (64 pixels + label), found {table.shape[1]}")
    pixels, labels = table[:, :64], table[:, 64]
    if pixels.min() < 0 or pixels.max() > 16:
        raise DataError(f"{path}: pixel values outside 0..16")
    images = pixels.reshape(-1, 8, 8, 1).astype(np.uint8)
    return Parsed({"all": (images, labels)}, manifest["class_names"], max_value=16)


# ---------------------------------------------------------------- image folders

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")  # as Keras' image_dataset_from_directory
SPLIT_FOLDERS = ({"train", "test"}, {"train", "test", "val"})  # how pre-split datasets are published


def hidden(name: str) -> bool:
    """A name starting with '.' (.DS_Store, ._cat.png, .ipynb_checkpoints/, .git/): never a class
    or an image, skipped wherever it is, and said so."""
    return name.startswith(".")


def skipped_note(skipped: list[str]) -> str:
    """How a command names the entries `walk_files` skipped (the first five)."""
    shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    return f"skipped {len(skipped)} hidden entr{'y' if len(skipped) == 1 else 'ies'} or links to folders: {shown}"


def check_link(path: Path, inside: Path) -> None:
    """Refuse a link that leads out of `inside` (resolved): the target's bytes would be read as
    an image of the folder (and copied into data/raw, which DVC caches and pushes)."""
    target = Path(os.path.realpath(path))
    if not target.is_relative_to(inside):
        raise DataError(
            f"{path}: a link to {target}, outside the image folder {inside}; copy the file in or remove the link"
        )


def walk_files(folder: Path, inside: Path | None = None) -> tuple[list[Path], list[Path]]:
    """The files under `folder`, sorted, and the entries skipped: hidden ones (see `hidden`) and
    links to folders (not followed: their images are in the folder they point to). A link to a
    file counts as that file if it points inside `inside` (default: `folder`); a link that points
    outside is refused (`check_link`)."""
    inside = Path(os.path.realpath(inside or folder))
    files, skipped = [], []
    for current, folders, names in os.walk(folder):  # links to folders are listed, not entered
        for name in folders:
            path = Path(current, name)
            if not hidden(name) and path.is_symlink():
                check_link(path, inside)
            if hidden(name) or path.is_symlink():
                skipped.append(path)
        folders[:] = [name for name in folders if not hidden(name) and not Path(current, name).is_symlink()]
        for name in names:
            path = Path(current, name)
            if hidden(name):
                skipped.append(path)
                continue
            if path.is_symlink():
                check_link(path, inside)
            files.append(path)
    return sorted(files), sorted(skipped)


def _subfolders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not hidden(p.name))


def folder_images(root: Path, inside: Path | None = None) -> tuple[list[str], list[tuple[Path, int]], list[Path]]:
    """Class names (sorted subfolders), (image path, label) pairs, and ignored files: non-images,
    hidden entries and links to folders (`walk_files`; links may point anywhere in `inside`)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    classes = _subfolders(root)
    if len(classes) < 2:
        raise DataError(f"{root}: needs one subfolder per class, found {len(classes)}")
    files, ignored = walk_files(root, inside)
    images = []
    class_files = {name: [] for name in classes}
    for path in files:
        name = path.relative_to(root).parts[0]
        if name in class_files:
            class_files[name].append(path)
        else:  # beside the class folders, or a link to a folder at the top
            ignored.append(path)
    for label, name in enumerate(classes):
        files = class_files[name]
        if not any(path.suffix.lower() in IMAGE_SUFFIXES for path in files):
            raise DataError(f"{root / name}: class folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
        for path in files:
            (images.append((path, label)) if path.suffix.lower() in IMAGE_SUFFIXES else ignored.append(path))
    return classes, images, ignored


def folder_splits(root: Path) -> tuple[list[str], dict[str, list[tuple[Path, int]]], list[Path]]:
    """Class names, {split: (image path, label) pairs} and ignored files (`folder_images`) of an image folder.

    A folder whose subfolders are exactly train/ and test/ (and val/), each holding
    class folders, is a pre-split dataset: {"train": ..., "test": ..., "val": ...},
    and every split must have the same classes. Any other folder has a subfolder per
    class and one split, "all".
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: image folder not found")
    names = set(_subfolders(root))
    # Split folders without a class folder anywhere are classes that happen to be called so.
    if names not in SPLIT_FOLDERS or not any(_subfolders(root / name) for name in names):
        classes, images, ignored = folder_images(root)
        return classes, {"all": images}, ignored
    classes, train, ignored = folder_images(root / "train", inside=root)
    splits = {"train": train}
    for split in ("test", "val"):
        if split not in names:
            continue
        found, splits[split], more = folder_images(root / split, inside=root)
        if found != classes:
            missing = ", ".join(repr(c) for c in classes if c not in found)
            extra = ", ".join(repr(c) for c in found if c not in classes)
            differ = ", ".join(p for p in (missing and f"missing {missing}", extra and f"extra {extra}") if p)
            raise DataError(f"{root / split}: classes differ from train/: {differ}")
        ignored += more
    return classes, splits, ignored


def convert_image(image, size=None, color_mode=None) -> np.ndarray:
    """Convert a PIL image or a uint8 H x W x C array to `color_mode` and (height, width) `size`.

    The one conversion that prepare applies to datasets and image folders, and
    that predict applies to new images: grey <-> RGB as PIL does it (ITU-R 601-2
    luma), bilinear resizing. Returns uint8 H x W x C.
    """
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    if color_mode:
        image = image.convert("L" if color_mode == "grayscale" else "RGB")
    elif image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    if size and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.uint8)
    return array[..., None] if array.ndim == 2 else array


def load_image(path: Path, size, color_mode, max_pixels: int | None = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Decode one image file and convert it (see `convert_image`).

    An image above `max_pixels` pixels (None: no limit) is refused from its header,
    before it is decoded, with `ImageTooLarge`.
    """
    from PIL import Image

    # Our limit replaces Pillow's (a warning above its MAX_IMAGE_PIXELS, an error above twice
    # that): the user sees one message naming the setting, whatever limit they chose.
    pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        with Image.open(path) as image:
            width, height = image.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageTooLarge(path, width, height, max_pixels)
            return convert_image(as_seen(image, path, size), size, color_mode)
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit


def _as_8bit(image, path):
    """An integer or floating-point image as 8-bit pixels, from the range its values fill:
    0..1 (floats), 0..255 or 0..65535 (always, for a 16-bit file)."""
    from PIL import Image

    pixels = np.asarray(image, dtype=np.float64)
    low, high = float(pixels.min()), float(pixels.max())
    ranges = {"F": (1.0, 255.0, 65535.0), "I": (255.0, 65535.0)}.get(image.mode, (65535.0,))  # I;16: 16 bits
    top = next((r for r in ranges if high <= r), None)
    if top is None or low < 0 or not np.isfinite(pixels).all():
        raise DataError(f"{path}: pixel values from {low:g} to {high:g}; expected 0 to 1, 255 or 65535")
    return Image.fromarray(np.round(pixels * (255.0 / top)).astype(np.uint8))


# Smallest side, and largest stretch of the width:height ratio when resized, of an image file that
# is still worth converting: a 1x1 or 1x20000 image resized to the model's input shows nothing.
MIN_IMAGE_SIDE = 4
MAX_IMAGE_STRETCH = 4.0


def as_seen(image, path, size=None):
    """A decoded image file as a viewer shows it: turned by its EXIF orientation, transparent
    parts over white, 16-bit and floating-point pixels as 8-bit ones. Refused (DataError)
    when it is an animation, smaller than MIN_IMAGE_SIDE, or would be stretched more than
    MAX_IMAGE_STRETCH times to fit `size` (height, width)."""
    from PIL import Image, ImageOps

    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        raise DataError(f"{path}: holds {frames} frames (an animation or a multi-page file); give one image")
    image = ImageOps.exif_transpose(image)
    width, height = image.size
    if min(width, height) < MIN_IMAGE_SIDE:
        raise DataError(f"{path}: {width}x{height} pixels is too small to classify (under {MIN_IMAGE_SIDE} pixels)")
    if size:
        stretch = (width / height) / (size[1] / size[0])
        if max(stretch, 1 / stretch) > MAX_IMAGE_STRETCH:
            raise DataError(
                f"{path}: {width}x{height} pixels would be stretched {max(stretch, 1 / stretch):.0f} times "
                f"to the {size[1]}x{size[0]} input; crop it closer to that shape"
            )
    if image.mode in ("F", "I") or image.mode.startswith("I;16"):  # Pillow truncates 0..1 floats to 0, clips 16 bits
        image = _as_8bit(image, path)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:  # an alpha channel or a see-through colour
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image).convert("RGB")
    return image


def _unreadable_reason(err: Exception) -> str:
    """Why an image could not be read, in a few words."""
    from PIL import UnidentifiedImageError

    if isinstance(err, ImageTooLarge):
        return f"{err.width}x{err.height} pixels, above data.max_image_pixels {err.limit:,}"
    if isinstance(err, UnidentifiedImageError):
        return "not an image"  # Pillow's message repeats the path
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def parse_folder(
    raw_dir: Path,
    manifest: dict,
    image_size=None,
    color_mode=None,
    skip_unreadable=False,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
):
    """Decode every image of an image folder; unreadable ones fail together or are skipped.

    Images above `max_pixels` pixels count as unreadable. A class left without a
    readable image (in any split) is refused: the model would have an output for it
    that nothing trains.
    """
    if not image_size or not color_mode:
        raise DataError("a folder dataset needs data.image_size and data.color_mode")
    root = raw_dir / "images"
    classes, files, _ = folder_splits(root)
    splits, unreadable, reasons = {}, [], []
    for split, pairs in files.items():
        images, labels, lost = [], [], {}
        for path, label in pairs:
            try:
                images.append(load_image(path, image_size, color_mode, max_pixels))
                labels.append(label)
            except (OSError, ValueError, SyntaxError) as err:  # DataError, UnidentifiedImageError among them
                name = path.relative_to(root).as_posix()
                unreadable.append(name)
                reasons.append(f"{name} ({_unreadable_reason(err)})")
                lost.setdefault(label, []).append(name)
        if unreadable and not skip_unreadable:
            continue  # all of them are named together below
        found = set(labels)
        for label, name in enumerate(classes):
            if label not in found:
                where = "" if split == "all" else f" in {split}/"
                shown = ", ".join(lost[label][:3]) + (", ..." if len(lost[label]) > 3 else "")
                raise DataError(
                    f"class {name!r} has no readable images{where} ({len(lost[label])} unreadable skipped: {shown})"
                )
        splits[split] = (np.stack(images), np.array(labels, dtype=np.int64))
    if unreadable and not skip_unreadable:
        raise DataError(
            f"{len(unreadable)} unreadable image(s): {', '.join(reasons)}; set data.skip_unreadable: true to skip them"
        )
    return Parsed(splits, classes, skipped=unreadable)


PARSERS: dict[str, Callable] = {
    "idx": parse_idx,
    "cifar10_binary": parse_cifar10_binary,
    "cifar100_binary": parse_cifar100_binary,
    "digits_csv": parse_digits_csv,
    "image_folder": parse_folder,
}


# ---------------------------------------------------------------- the sources


def _idx_files(hashes: dict[str, tuple[str, str]], train: int, test: int, side: int = 28):
    shapes = {
        "train-images": (train, side, side),
        "train-labels": (train,),
        "t10k-images": (test, side, side),
        "t10k-labels": (test,),
    }
    return {
        f"{stem}-idx{len(shapes[stem])}-ubyte.gz": FileSpec(sha, content, shapes[stem])
        for stem, (sha, content) in hashes.items()
    }


def _sklearn_data_dir() -> str:
    import sklearn.datasets

    return str(Path(sklearn.datasets.__file__).parent / "data")


SOURCES = {
    "digits": Source(
        name="digits",
        format="digits_csv",
        files={"digits.csv.gz": FileSpec("09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22")},
        base="sklearn",  # resolved by `base_location`: the data folder inside the installed wheel
        class_names=tuple(str(i) for i in range(10)),
        description="UCI optical recognition of handwritten digits, 8x8, as bundled with scikit-learn",
    ),
    # torchvision's MNIST location; hashes of the gzip files and of their content.
    "mnist": Source(
        name="mnist",
        format="idx",
        files=_idx_files(
            {
                "train-images": (
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                ),
                "train-labels": (
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                ),
                "t10k-images": (
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                ),
                "t10k-labels": (
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                ),
            },
            train=60_000,
            test=10_000,
        ),
        base="https://ossci-datasets.s3.amazonaws.com/mnist/",
        class_names=tuple(str(i) for i in range(10)),
        description="MNIST handwritten digits, 28x28 grey, 60,000 training and 10,000 test images",
    ),
    # Zalando's own location (torchvision's); Keras hosts the same files.
    "fashion_mnist": Source(
        name="fashion_mnist",
        format="idx",
        files=_idx_files(
            {
                "train-images": (
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ),
                "train-labels": (
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
                "t10k-images": (
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ),
                "t10k-labels": (
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            },
            train=60_000,
            test=10_000,
        ),
        base="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        description="Fashion-MNIST (Zalando), 28x28 grey, 60,000 training and 10,000 test images",
    ),
    "cifar10": Source(
        name="cifar10",
        format="cifar10_binary",
        files={"cifar-10-binary.tar.gz": FileSpec("c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd")},
        archives=("cifar-10-binary.tar.gz",),
        base="https://www.cs.toronto.edu/~kriz/",
        description="CIFAR-10 (binary version), 32x32 colour, 50,000 training and 10,000 test images",
    ),
    "cifar100": Source(
        name="cifar100",
        format="cifar100_binary",
        files={"cifar-100-binary.tar.gz": FileSpec("58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec")},
        archives=("cifar-100-binary.tar.gz",),
        base="https://www.cs.toronto.edu/~kriz/",
        description="CIFAR-100 (binary version, fine labels), 32x32 colour, 50,000 training and 10,000 test images",
    ),
    "folder": Source(
        name="folder",
        format="image_folder",
        files={},
        base="",
        description="an image folder with one subfolder per class",
    ),
}


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r} (known: {', '.join(SOURCES)})") from None


def base_location(source: Source, mirror: str | None = None) -> str:
    """Where to fetch from: the mirror (a folder or base URL) if given, else the published base."""
    if mirror:
        return mirror
    return _sklearn_data_dir() if source.base == "sklearn" else source.base
