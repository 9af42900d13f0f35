"""Package stage: copy the best run's model, metrics and class names into one archive.

    python -m stages.package --runs softmax mlp cnn_intro --metric accuracy \
        --metrics reports/runs/{softmax,mlp,cnn_intro}/metrics.json \
        --models models/runs/{softmax,mlp,cnn_intro}/model.keras \
        --metadata data/prepared/metadata.json \
        --out-dir models/package --archive models/package.tar.gz

The best run has the highest test `metric`; ties go to the lower loss, then
to the run listed first. The folder holds a SHA256SUMS manifest of every
file (check it with `sha256sum -c SHA256SUMS`) and is also written as a
.tar.gz with fixed timestamps and owners.
"""
from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tarfile
from pathlib import Path

from stages.files import atomic_dir, atomic_path, read_json, sha256_file, write_json, write_text


def select_best(runs, metrics_paths, metric: str) -> tuple[str, list[dict]]:
    """Rank runs by `metric` (higher first), then loss (lower first), then listed order."""
    scored = [read_json(p) | {"run": r} for r, p in zip(runs, metrics_paths, strict=True)]
    for entry in scored:
        if metric not in entry:
            raise KeyError(f"metric {metric!r} missing from the metrics of run {entry['run']!r}")
    order = sorted(range(len(scored)), key=lambda i: (-scored[i][metric], scored[i]["loss"], i))
    ranking = [{"run": scored[i]["run"], metric: scored[i][metric], "loss": scored[i]["loss"]} for i in order]
    return ranking[0]["run"], ranking


def write_archive(folder: Path, archive) -> None:
    """A reproducible .tar.gz of `folder`: sorted names, zero timestamps and owners."""
    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        return info

    with atomic_path(archive, suffix=".tar.gz") as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped, \
                tarfile.open(fileobj=zipped, mode="w") as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=f"{Path(archive).name.removesuffix('.tar.gz')}/{path.name}",
                        filter=normalise)


def package(runs, metrics_paths, model_paths, metadata_path, metric, out_dir, archive) -> dict:
    """Package the best run into `out_dir` and `archive`; return the selection record."""
    best, ranking = select_best(runs, metrics_paths, metric)
    index = list(runs).index(best)
    metadata = read_json(metadata_path)
    selection = {"run": best, "metric": metric, "ranking": ranking}
    with atomic_dir(out_dir) as tmp:
        shutil.copyfile(model_paths[index], tmp / "model.keras")
        shutil.copyfile(metrics_paths[index], tmp / "metrics.json")
        write_json(tmp / "class_names.json", metadata["class_names"])
        write_json(tmp / "preprocessing.json", {"image_shape": metadata["image_shape"],
                                                "scaling": metadata["scaling"]})
        write_json(tmp / "selection.json", selection)
        manifest = "".join(f"{sha256_file(p)}  {p.name}\n" for p in sorted(tmp.iterdir()))
        write_text(tmp / "SHA256SUMS", manifest)
        write_archive(tmp, archive)
    print(f"packaged run {best} ({metric} {ranking[0][metric]:.4f}) into {archive}")
    return selection


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--metric", required=True)
    parser.add_argument("--metrics", nargs="+", required=True, help="one metrics.json per run")
    parser.add_argument("--models", nargs="+", required=True, help="one .keras file per run")
    parser.add_argument("--metadata", required=True, help="prepared data metadata.json")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--archive", required=True)
    args = parser.parse_args(argv)
    if not len(args.metrics) == len(args.models) == len(args.runs):
        print("error: give one --metrics and one --models file per run", file=sys.stderr)
        return 2
    try:
        package(args.runs, args.metrics, args.models, args.metadata, args.metric, args.out_dir, args.archive)
    except (KeyError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
