"""What it costs each runner to see a change inside a folder input: 60,000 images.

    python benchmarks/folder_inputs.py [--images 60000] [--repeats 5] [--out benchmarks/results/folder_inputs.json]

Snakemake reads a folder's stamp (stages/lib/stamps.py), brought up to date on every
`snakemake` call: one `lstat` per entry and a digest, no read of the files. Measured here on
a folder of --images PNGs in 10 class folders (a Fashion-MNIST-sized image folder), medians of
--repeats, against what the issue ruled out, hashing every file on every call (SHA-256 of each
file, read from the page cache), and against DVC's own check of the same folder (`dvc status`
of a stage that depends on it, its state database warm).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stages.lib.files import sha256_file, write_json  # noqa: E402
from stages.lib.stamps import stamp  # noqa: E402


def make_folder(root: Path, images: int) -> None:
    from PIL import Image

    for i in range(images):
        folder = root / f"class{i % 10}"
        if i < 10:
            folder.mkdir(parents=True)
        Image.new("L", (28, 28), i % 256).save(folder / f"{i:05d}.png")


def median_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def hash_all(root: Path) -> None:
    for folder, _, names in os.walk(root):
        for name in names:
            sha256_file(Path(folder, name))


def dvc_status_seconds(folder: str, repeats: int, env: dict) -> float:
    """Median `dvc status` of a one-stage pipeline that depends on `folder` (after a repro)."""
    Path("dvc.yaml").write_text(
        f"stages:\n  count:\n    cmd: ls -R {folder} | wc -l > count.txt\n    deps: [{folder}]\n    outs: [count.txt]\n"
    )
    subprocess.run(["dvc", "repro", "-q"], check=True, env=env, capture_output=True)
    return median_seconds(
        lambda: subprocess.run(["dvc", "status", "-q"], check=True, env=env, capture_output=True), repeats
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "folder_inputs.json"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="folder-inputs-"))
    try:
        images = work / "project" / "images"
        make_folder(images, args.images)
        os.chdir(work / "project")
        stamps = Path(".snakemake") / "stamps"
        stamp("images", stamps)  # the first call writes it
        unchanged = median_seconds(lambda: stamp("images", stamps), args.repeats)

        def after_an_edit():
            (images / "class3" / "00003.png").touch()
            stamp("images", stamps)

        edited = median_seconds(after_an_edit, args.repeats)
        hashed = median_seconds(lambda: hash_all(images), args.repeats)

        bin_dir = Path(sys.executable).parent
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
            subprocess.run(command, check=True, env=env, capture_output=True)
        dvc_status = dvc_status_seconds("images", args.repeats, env)
        Path("empty").mkdir()
        Path("empty", "a").write_text("a")
        dvc_floor = dvc_status_seconds("empty", args.repeats, env)
    finally:
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "benchmark": "what each runner pays per call to see a change inside a folder input (median seconds)",
        "images": args.images,
        "repeats": args.repeats,
        "snakemake_stamp_unchanged_s": unchanged,
        "snakemake_stamp_after_an_edit_s": edited,
        "hash_every_file_s": hashed,
        "dvc_status_s": dvc_status,
        "dvc_status_one_file_folder_s": dvc_floor,
        "stamp_over_hashing": round(unchanged / hashed, 3),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    write_json(args.out, result)
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
