"""Read a state dict saved by torch's legacy (non-zip) `torch.save`, with pickle and numpy alone.

torchvision's ImageNet weights (`mobilenet_v2-b0353104.pth`) are in this format: four pickles
(a magic number, the protocol version 1001, system information, then the state dict whose
tensors refer to storages by key), a fifth pickle listing the storage keys, then each storage's
bytes in that order, every one after an int64 count of its elements. The unpickler builds
nothing but an OrderedDict, numbers, strings and tuples: any other class in the file, which a
crafted file would use to run code, is refused with an error naming it.
"""

from __future__ import annotations

import collections
import pickle  # only through StateDictUnpickler, whose find_class allows no code
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch/serialization.py
PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ByteStorage": np.dtype("u1"),
}


class WeightsFileError(Exception):
    """A weights file that is not a torch state dict this reader can read."""


@dataclass
class Storage:
    dtype: np.dtype
    count: int
    values: np.ndarray | None = None


@dataclass
class TensorRef:
    """A tensor before its storage's bytes are read: storage, element offset, shape, strides."""

    storage: Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def array(self) -> np.ndarray:
        values = self.storage.values
        itemsize = values.itemsize
        end = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.strides, strict=True)) + 1
        if self.shape and min(self.shape) > 0 and (self.offset < 0 or end > len(values)):
            raise WeightsFileError(f"a tensor of shape {self.shape} lies outside its storage")
        view = np.lib.stride_tricks.as_strided(
            values[self.offset :], self.shape, tuple(s * itemsize for s in self.strides), writeable=False
        )
        return np.array(view)  # a copy: contiguous, and the storage may be freed


def _rebuild_tensor(storage, offset, shape, strides, *_ignored) -> TensorRef:
    """torch._utils._rebuild_tensor_v2's arguments (requires_grad, hooks and metadata ignored)."""
    return TensorRef(storage, int(offset), tuple(shape), tuple(strides))


class StateDictUnpickler(pickle.Unpickler):
    def __init__(self, file, where: str):
        super().__init__(file)
        self.where = where
        self.storages: dict[str, Storage] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return name  # a storage type: persistent_load reads its name
        raise WeightsFileError(f"{self.where}: holds {module}.{name}, which a torch state dict does not")

    def persistent_load(self, saved_id):
        if not (isinstance(saved_id, tuple) and len(saved_id) == 6 and saved_id[0] == "storage"):
            raise WeightsFileError(f"{self.where}: an unknown persistent reference {saved_id!r:.80}")
        _, storage_type, key, _location, count, view = saved_id
        if view is not None or storage_type not in STORAGE_DTYPES:
            raise WeightsFileError(f"{self.where}: a storage view or type this reader does not read")
        return self.storages.setdefault(key, Storage(STORAGE_DTYPES[storage_type], int(count)))


def read_state_dict(path) -> dict[str, np.ndarray]:
    """The arrays of a legacy torch state dict, by name, in the file's order."""
    path = Path(path)
    with path.open("rb") as handle:
        if handle.read(2) == b"PK":
            raise WeightsFileError(f"{path}: not a legacy torch weights file (the zip format of torch >= 1.6)")
        handle.seek(0)
        header = StateDictUnpickler(handle, str(path))
        try:
            magic = header.load()
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise WeightsFileError(f"{path}: not a torch weights file ({error})") from None
        if magic != MAGIC_NUMBER:
            raise WeightsFileError(f"{path}: not a legacy torch weights file")
        if header.load() != PROTOCOL_VERSION:
            raise WeightsFileError(f"{path}: torch serialisation protocol is not {PROTOCOL_VERSION}")
        system = header.load()
        if not system.get("little_endian", False):
            raise WeightsFileError(f"{path}: saved on a big-endian machine")
        unpickler = StateDictUnpickler(handle, str(path))
        state = unpickler.load()
        keys = StateDictUnpickler(handle, str(path)).load()
        for key in keys:
            if (storage := unpickler.storages.get(key)) is None:
                raise WeightsFileError(f"{path}: storage {key} belongs to no tensor")
            count = int(np.frombuffer(handle.read(8), "<i8")[0])
            data = handle.read(count * storage.dtype.itemsize)
            if count != storage.count or len(data) != count * storage.dtype.itemsize:
                raise WeightsFileError(f"{path}: storage {key} is truncated")
            storage.values = np.frombuffer(data, storage.dtype)
    if not isinstance(state, dict) or not all(isinstance(v, TensorRef) for v in state.values()):
        raise WeightsFileError(f"{path}: holds no state dict of tensors")
    return {name: tensor.array() for name, tensor in state.items()}
