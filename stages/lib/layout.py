"""Every file the stages exchange, named once: the rules, the dvc.yaml generator and the tools read this.

A path with `{run}` is one per run: Snakemake fills it with its wildcard,
dvc.yaml's generator with `${item}`, a tool with a run's name (`per_run`).
"""

CONFIG_DIR = "configs"
# In CONFIG_DIR, written by configure (and by the Snakefile while it is parsed).
CONFIG_FILES = {
    "download": "data/download.json",
    "prepare": "data/prepare.json",
    "weights": "data/weights.json",
    "package": "package.json",
    "report": "report.json",
    "run": "{run}.json",
}
CONFIGS = {key: f"{CONFIG_DIR}/{name}" for key, name in CONFIG_FILES.items()}
# Also in CONFIG_DIR: each stage's code as one input, the fingerprint of the code it runs
# (stages.lib.codedeps), written like the configs; train's one per architecture, so that a train job
# depends on its own architecture's code only. Listing its 10 to 14 source files instead made a
# no-op `dvc repro` of a 200-run grid take 12.4 s, not 9.0 s (docs/development.md#benchmarks).
CODE_STAGES = ("download", "prepare", "folds", "train", "evaluate", "report", "package")
CODE_FILES = {stage: f"code/{stage}.json" for stage in CODE_STAGES}
CODE_FILES["train"] = "code/train/{architecture}.json"


def code_config(stage: str, architecture: str | None = None, folder: str = CONFIG_DIR) -> str:
    """The fingerprint file of `stage`'s code (train's: of a run of `architecture`) in `folder`."""
    # The weights stage is not in CODE_STAGES (nor its log in LOG): every stage's fingerprint holds
    # those statements, and changing them would have rerun every job of every project.
    name = CODE_FILES.get(stage, f"code/{stage}.json")
    return f"{folder}/{name.replace('{architecture}', architecture) if architecture else name}"


RAW = "data/raw"
PREPARED = "data/prepared"
# torchvision's ImageNet MobileNetV2 weights (stages.weights), for the runs that transfer from them.
WEIGHTS = "data/weights"
WEIGHTS_LOG = "logs/weights.log"  # not in LOG: see code_config
# Cross-validation (a run's `cv_folds: K`): the training and validation images of PREPARED in K
# stratified folds, one prepared-like folder per fold (x/y_train: the other folds, x/y_val: this one).
FOLDS = "data/folds/{folds}"
FOLD = "fold{fold}"
DATA_REPORTS = "reports/data"
SAMPLES = f"{DATA_REPORTS}/samples.png"
CLASS_BALANCE = f"{DATA_REPORTS}/class_balance.csv"

MODEL = "models/runs/{run}/model.keras"
# A run trained with `augment` is saved as two layers: this block of random augmentations, then the network.
AUGMENTATION = "augmentation"
MODELS_DIR = "models/runs"
RUNS_DIR = "reports/runs"
RUN_DIR = f"{RUNS_DIR}/{{run}}"

# Per run, RUN_DIR holds two folders, one output of each runner's job: TRAINING_DIR, written by
# train, and EVALUATION_DIR, written by evaluate. One folder per job, not one declared file per
# result: the ~40 files a run declared made each runner's no-op at 500 runs about 1.5 times slower
# (docs/development.md#benchmarks).
TRAINING_DIR = "training"
EVALUATION_DIR = "evaluation"
# In TRAINING_DIR. `live/` is dvclive's folder: the per-epoch
# metrics, updated after every epoch, that `dvc plots` and `dvc exp show` read.
LIVE_DIR = "live"
# Keras' name of each logged value -> dvclive's (as dvclive's own Keras callback names them).
LIVE_METRICS = {
    "loss": "train/loss",
    "accuracy": "train/accuracy",
    "val_loss": "eval/loss",
    "val_accuracy": "eval/accuracy",
    "learning_rate": "learning_rate",
}
TRAIN_FILES = {
    "history": "history.csv",
    "summary": "training.json",
    "live_summary": f"{LIVE_DIR}/metrics.json",
    **{f"live_{name}": f"{LIVE_DIR}/plots/metrics/{name}.tsv" for name in LIVE_METRICS.values()},
}
# In EVALUATION_DIR (evaluate's --out-dir). metrics.json holds the headline numbers
# only (what `dvc metrics` and `dvc exp show` list); the other scores (per class, macro
# and weighted precision and recall) and the provenance sit beside it.
EVALUATION_FILES = {
    "metrics": "metrics.json",
    "scores": "scores.json",
    "provenance": "provenance.json",
    "confusion": "confusion_matrix.csv",
    "confusion_normalized": "confusion_matrix_normalized.csv",
    "heatmap": "confusion_matrix.png",
    "report_json": "classification_report.json",
    "report_text": "classification_report.txt",
    "predictions": "predictions.csv",
    "misclassified": "misclassified.png",
    "filters": "filters.png",
}
# What the package stage copies of its run besides the model.
PACKAGE_INPUTS = ("metrics", "scores", "provenance", "summary", "confusion", "heatmap")

# Across runs, in REPORT_DIR (the --out-dir of report).
REPORT_DIR = "reports"
REPORT_FILES = {
    "table_csv": "comparison.csv",
    "table_md": "comparison.md",
    # Per run with replicates (repeats, cv_folds): mean, standard deviation and interval (DVC metrics).
    "replicates": "replicates.json",
    # Per run its headline test numbers under the run's name ("mlp.accuracy"): names that occur once, so
    # `dvc exp show` heads their columns without a file path (DVC metrics).
    "headline": "metrics.json",
    # Every run's confusion matrix, a row per cell (run, actual, predicted, count): `dvc plots`.
    "confusions": "confusion_matrices.csv",
    "curves": "figures/curves.png",
    "parameters": "figures/parameters.png",
    "sweeps": "figures/sweeps.png",
    "executed": "report.ipynb",
    "html": "report.html",
}
NOTEBOOK = "workflow/notebooks/report.ipynb"
PACKAGE_DIR = "models/package"
ARCHIVE = "models/package.tar.gz"

# Not results: each job's whole output, and train's wall times and peak memory.
LOGS = "logs"
LOG = {stage: f"{LOGS}/{stage}.log" for stage in ("configure", "download", "prepare", "report", "package")}
LOG.update({stage: f"{LOGS}/{stage}/{{run}}.log" for stage in ("train", "evaluate")})
FOLDS_LOG = f"{LOGS}/folds/{{folds}}.log"  # one folds job per number of folds
TIMES = f"{LOGS}/train/{{run}}.times.json"  # seconds per epoch, images per second, peak memory


# name -> file in a run's folder (RUN_DIR)
RUN_FILES = {
    **{key: f"{TRAINING_DIR}/{name}" for key, name in TRAIN_FILES.items()},
    **{key: f"{EVALUATION_DIR}/{name}" for key, name in EVALUATION_FILES.items()},
}
TRAINING = f"{RUN_DIR}/{TRAINING_DIR}"
EVALUATION = f"{RUN_DIR}/{EVALUATION_DIR}"
LIVE = f"{TRAINING}/{LIVE_DIR}"  # train's --live


def run_file(name: str, run: str = "{run}") -> str:
    """The path of a per-run file (a key of RUN_FILES) for `run`."""
    return f"{RUN_DIR}/{RUN_FILES[name]}".replace("{run}", run)


def per_run(path: str, runs) -> list[str]:
    return [path.replace("{run}", run) for run in runs]
