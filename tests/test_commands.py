"""Every command answers --help; the commands no other fast test runs (configure, plots_template, pull)."""

import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT

COMMANDS = sorted(path.stem for path in (ROOT / "stages").glob("*.py") if path.stem != "__init__")


def test_the_commands_are_the_modules_of_stages():
    assert {
        "configure",
        "download",
        "prepare",
        "train",
        "evaluate",
        "report",
        "package",
        "predict",
        "verify",
        "compare",
        "pull",
        "dvcgen",
        "plots_template",
    } <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help(command):
    """`python -m stages.<name> --help` imports the command and all it imports, and prints its usage."""
    result = subprocess.run(
        [sys.executable, "-m", f"stages.{command}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("usage: ") and "--help" in result.stdout, result.stdout
    assert "Traceback" not in result.stderr


def test_configure_writes_every_config_and_refuses_a_stale_dvc_yaml(tmp_path, capsys):
    from stages.configure import main
    from stages.dvcgen import main as dvcgen_main
    from stages.lib.codedeps import code_files, fingerprint
    from stages.lib.files import read_json
    from stages.lib.layout import CONFIG_FILES, code_config
    from stages.lib.params import code_stages, load_params, resolve_runs

    params = ROOT / "params.yaml"
    runs = list(resolve_runs(load_params(params)))
    assert dvcgen_main(["--params", str(params), "--out", str(tmp_path / "dvc.yaml")]) == 0
    out = tmp_path / "configs"
    assert main(["--params", str(params), "--out-dir", str(out), "--dvc-yaml", str(tmp_path / "dvc.yaml")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"configured {len(runs)} runs: {', '.join(runs)}"
    expected = [CONFIG_FILES[stage] for stage in ("download", "prepare", "package", "report")]
    expected += [CONFIG_FILES["run"].replace("{run}", name) for name in runs]
    # Each stage's code as one input, train's one per architecture: the fingerprint of what it runs.
    used = {run.architecture for run in resolve_runs(load_params(params)).values()}  # transfer: no run of it
    # folds: only where a run asks for cv_folds.
    stages = code_stages(load_params(params))
    codes = {(stage, None) for stage in stages if stage != "train"} | {("train", name) for name in used}
    expected += [code_config(stage, name, ".")[2:] for stage, name in codes]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.json")) == sorted(expected)
    assert read_json(out / CONFIG_FILES["run"].replace("{run}", runs[0]))["run"] == runs[0]
    for stage, name in codes:
        digests = read_json(code_config(stage, name, str(out)))
        assert digests == fingerprint(stage, name) and list(digests) == code_files(stage, name)
        assert f"stages/{stage}.py" in digests and (name is None or f"stages/lib/architectures/{name}.py" in digests)

    # One run more in params.yaml than in dvc.yaml: refused in one line, no config written.
    changed = yaml.safe_load(params.read_text())
    changed["runs"]["extra"] = {"architecture": "softmax"}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    status = main(
        [
            "--params",
            str(tmp_path / "params.yaml"),
            "--out-dir",
            str(tmp_path / "other"),
            "--dvc-yaml",
            str(tmp_path / "dvc.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert "does not match the runs or data of params.yaml; regenerate dvc.yaml with `python -m stages.dvcgen`" in err
    assert not (tmp_path / "other").exists()


def test_plots_template_carries_vega_and_dvc_placeholders(tmp_path, capsys):
    from stages.plots_template import main

    path = tmp_path / "plots.html"
    assert main([str(path)]) == 0 and capsys.readouterr().out == f"{path}: written\n"
    page = path.read_text()
    assert "{plot_divs}" in page and "{refresh_tag}" in page  # what DVC fills in
    assert "vegaEmbed" in page and "<script src=" not in page  # Vega inlined: no page from a CDN
    assert main([str(path)]) == 0 and capsys.readouterr().out == f"{path}: unchanged\n"


FAKE_DVC = """#!/bin/sh
echo "dvc $*" >> "{log}"
case "$1" in
  pull) exit {pull_status} ;;
  status) echo '{status}' ;;
esac
"""
FAKE_SNAKEMAKE = """#!/bin/sh
echo "snakemake $*" >> "{log}"
"""


def dvc_project_with_remote(tmp_path, name: str, exists: bool = True):
    """A DVC project (no git) whose remote `name` is a folder beside it, made or not."""
    project = tmp_path / "project"
    (project / ".dvc").mkdir(parents=True)
    config = f"[core]\n    no_scm = true\n['remote \"{name}\"']\n    url = ../../storage\n"
    (project / ".dvc" / "config").write_text(config)
    if exists:
        (tmp_path / "storage").mkdir()
    return project


@pytest.mark.parametrize(
    "config, expected",
    [
        ("", "this project has no default DVC remote: add one"),
        ("[core]\n    remote = gone\n", "this project has no DVC remote named gone"),
        (None, "the DVC remote storage is the folder {storage}, which does not exist on this machine: point it"),
    ],
)
def test_pull_says_in_one_line_when_no_remote_can_be_reached(tmp_path, monkeypatch, capsys, config, expected):
    """Before DVC is asked (its answer lists every missing file): no remote, an unknown one, or the
    default folder beside the repository it was made for, which a clone elsewhere does not have."""
    from stages.pull import main

    project = dvc_project_with_remote(tmp_path, "storage", exists=False)
    config_file = project / ".dvc" / "config"
    if config is not None:
        config_file.write_text("[core]\n    no_scm = true\n" + config.replace("[core]\n", ""))
    else:
        config_file.write_text(config_file.read_text().replace("no_scm = true", "no_scm = true\n    remote = storage"))
    monkeypatch.chdir(project)
    assert main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: " + expected.format(storage=tmp_path / "storage")) and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "pull_status, status, expected_err, expected_calls",
    [
        (
            0,
            "{}",
            "",
            [
                "dvc pull --remote shared dvc.yaml",
                "dvc status --json dvc.yaml",
                "snakemake --touch --forceall --cores 1 --quiet all",
            ],
        ),
        (
            0,
            '{"train@mlp": [{"changed outs": {"models/runs/mlp/model.keras": "modified"}}]}',
            "error: dvc status is not clean after the pull (train@mlp): these results are not the committed ones; "
            "run the pipeline instead of marking them up to date\n",
            ["dvc pull --remote shared dvc.yaml", "dvc status --json dvc.yaml"],
        ),
        (
            1,
            "{}",
            "error: `dvc pull --remote shared dvc.yaml` failed (exit 1)\n",
            ["dvc pull --remote shared dvc.yaml"],
        ),
    ],
)
def test_pull_marks_results_up_to_date_only_when_dvc_status_is_clean(
    tmp_path, monkeypatch, capsys, pull_status, status, expected_err, expected_calls
):
    """stages.pull against stand-ins for dvc and snakemake (tests/test_share.py runs the real ones)."""
    from stages.pull import main

    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (
        ("dvc", FAKE_DVC.format(log=log, pull_status=pull_status, status=status)),
        ("snakemake", FAKE_SNAKEMAKE.format(log=log)),
    ):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    project = dvc_project_with_remote(tmp_path, "shared")
    monkeypatch.chdir(project)
    assert main(["--remote", "shared"]) == (1 if expected_err else 0)
    captured = capsys.readouterr()
    assert captured.err == expected_err
    assert ("pulled: dvc status is clean" in captured.out) == (not expected_err)
    assert log.read_text().splitlines() == expected_calls
