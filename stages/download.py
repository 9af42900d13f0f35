"""Download stage: fetch a dataset's published files and record their checksums.

    python -m stages.download --dataset digits --out data/raw

The files are copied verbatim into a temporary folder, each checked against
its pinned SHA-256, and the folder replaces `--out` only when all match; a
`checksums.json` beside them records what was fetched.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from stages.datasets import DataError, get_source
from stages.files import atomic_dir, sha256_file, write_json


def download(dataset: str, out_dir: str | Path) -> dict:
    """Fetch and verify the files of `dataset` into `out_dir`; return the checksum record."""
    source = get_source(dataset)
    origin = source.location()
    record = {"dataset": dataset, "origin": str(origin), "files": {}}
    with atomic_dir(out_dir) as tmp:
        for name, expected in source.files.items():
            target = tmp / name
            try:
                shutil.copyfile(origin / name, target)
            except OSError as err:
                raise DataError(f"{origin / name}: cannot fetch ({err.strerror})") from None
            actual = sha256_file(target)
            if actual != expected:
                raise DataError(f"{name}: SHA-256 mismatch (expected {expected}, got {actual})")
            record["files"][name] = {"sha256": actual, "bytes": target.stat().st_size}
            print(f"fetched {name}: {target.stat().st_size:,} bytes, sha256 ok", flush=True)
        write_json(tmp / "checksums.json", record)
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True, help="folder for the raw files")
    args = parser.parse_args(argv)
    try:
        download(args.dataset, args.out)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
