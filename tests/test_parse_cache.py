"""The Snakefile's parse-time work (stages.lib.parse_cache): taken from its record only while
every file it reads or writes is as recorded, done again (and its files restored) otherwise."""

import json
import re
import shutil

import pytest
import yaml

import stages.lib.params
from stages.lib import parse_cache
from stages.lib.layout import CONFIG_FILES
from stages.lib.params import ParamsError, load_params, resolve_runs, run_name_pattern
from tests.conftest import ROOT, make_project, run, set_params


@pytest.fixture
def project(tmp_path, monkeypatch):
    """params.yaml in an empty folder, configured once (the record written), and the calls to
    load_params from then on: one for each `configure` that did the work."""
    shutil.copy2(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    parse_cache.configure()
    calls = []
    real = stages.lib.params.load_params
    monkeypatch.setattr(stages.lib.params, "load_params", lambda *a, **k: calls.append(a) or real(*a, **k))
    return tmp_path, calls


def test_an_unchanged_project_takes_the_recorded_result(project):
    folder, calls = project
    params, jobs, pattern = parse_cache.configure()
    assert not calls
    assert params == load_params(folder / "params.yaml")
    assert {name: job["architecture"] for name, job in jobs.items()} == {
        name: run.architecture for name, run in resolve_runs(params).items()
    }
    assert all(job["data"] == job["data_path"] == "data/prepared" for job in jobs.values())  # no cv_folds
    assert pattern == run_name_pattern()
    assert (folder / "dvc.yaml").is_file() and (folder / "configs" / CONFIG_FILES["report"]).is_file()


def test_a_deleted_record_does_the_work_again_and_loses_nothing(project):
    folder, calls = project
    kept = parse_cache.configure()
    (folder / parse_cache.RECORD).unlink()  # docs/running.md: delete it to force the work
    assert parse_cache.configure() == kept
    assert len(calls) == 1 and (folder / parse_cache.RECORD).is_file()
    parse_cache.configure()
    assert len(calls) == 1


def test_a_changed_params_yaml_is_validated_again(project):
    folder, calls = project
    params = yaml.safe_load((folder / "params.yaml").read_text())
    params["runs"]["mlp"]["learning_rate"] = 0.125
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _, runs, _ = parse_cache.configure()
    assert calls and "mlp" in runs
    assert json.loads((folder / "configs" / "mlp.json").read_text())["training"]["learning_rate"] == 0.125

    params["runs"]["mlp"]["learning_rate"] = "fast"
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.raises(ParamsError, match=re.escape("runs.mlp.learning_rate: 'fast' is invalid")):
        parse_cache.configure()


@pytest.mark.parametrize("damage", ["edit", "delete"])
def test_a_config_or_dvc_yaml_changed_by_hand_is_restored(project, damage):
    folder, calls = project
    for path in (folder / "configs" / "mlp.json", folder / "dvc.yaml"):
        written = path.read_text()
        if damage == "edit":
            path.write_text(written.replace("mlp", "MLP"))
        else:
            path.unlink()
        parse_cache.configure()
        assert path.read_text() == written
    assert len(calls) == 2


def test_a_changed_file_of_the_code_or_schema_does_the_work_again(project, tmp_path_factory, monkeypatch):
    _, calls = project
    code = tmp_path_factory.mktemp("code")  # a copy of what configure reads, to edit
    for source in parse_cache.SOURCES:
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, code / source, ignore=shutil.ignore_patterns("__pycache__"))
        elif (ROOT / source).exists():
            shutil.copy2(ROOT / source, code / source)
    monkeypatch.setattr(parse_cache, "ROOT", code)
    parse_cache.configure()  # another code folder: its record is another
    assert len(calls) == 1
    for path in (code / "stages" / "lib" / "shapes.py", code / "workflow" / "schemas" / "params.schema.yaml"):
        calls.clear()
        path.write_text(path.read_text() + "# edited\n")
        parse_cache.configure()
        assert len(calls) == 1
        parse_cache.configure()  # and recorded again
        assert len(calls) == 1


def test_the_snakefile_keeps_its_record_until_params_yaml_changes(tmp_path):
    project = make_project(tmp_path / "project")
    record = project / parse_cache.RECORD
    run(["snakemake", "-n"], project)
    written = record.stat().st_mtime_ns
    run(["snakemake", "-n"], project)
    assert record.stat().st_mtime_ns == written  # the second parse took it as it was
    set_params(project, lambda params: params["runs"].update(extra={"architecture": "softmax"}))
    result = run(["snakemake", "-n"], project)
    assert record.stat().st_mtime_ns != written
    assert "run=extra" in result.stdout + result.stderr
    assert "extra" in json.loads(record.read_text())["runs"]
