"""The Keras backend a command runs on (issue 38, family 6): a wrong KERAS_BACKEND, or a wrong
"backend" in keras.json, is one line naming where it was set and what is installed. The commands
that load Keras are checked one by one in tests/test_package.py, the runners in tests/test_faults.py."""

import dataclasses
import os
import subprocess
import sys

import pytest

from stages.lib.backend import check_keras_backend
from stages.lib.errors import PipelineError
from stages.lib.files import write_json
from tests.conftest import ROOT, run_config


def test_keras_json_is_named_where_it_sets_the_backend(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    config = tmp_path / "keras.json"
    config.write_text('{"backend": "theano"}')
    for variable in (None, ""):  # unset or empty: Keras reads keras.json
        if variable is None:
            monkeypatch.delenv("KERAS_BACKEND", raising=False)
        else:
            monkeypatch.setenv("KERAS_BACKEND", variable)
        with pytest.raises(PipelineError, match=rf"^\"backend\" in {config} is 'theano', not a Keras backend"):
            check_keras_backend()
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # the variable wins, as in Keras
    assert check_keras_backend(training=True) == "tensorflow"
    monkeypatch.delenv("KERAS_BACKEND")
    config.write_text("{not json")  # Keras ignores a file it cannot read
    assert check_keras_backend() == "tensorflow"


def test_the_train_command_refuses_a_bad_backend_in_one_line_without_a_traceback(tmp_path):
    config = tmp_path / "run.json"
    write_json(config, dataclasses.asdict(run_config()))
    model = tmp_path / "model.keras"
    done = subprocess.run(
        [sys.executable, "-m", "stages.train", "--config", str(config), "--data", str(tmp_path),
         "--model", str(model), "--history", str(tmp_path / "h.csv"), "--summary", str(tmp_path / "s.json")],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "KERAS_BACKEND": "nonsense"},
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("error: KERAS_BACKEND is 'nonsense', not a Keras backend (tensorflow, jax, torch, ")
    assert done.stderr.count("\n") == 1 and "tensorflow" in done.stderr.split("installed here: ")[1]
    assert list(tmp_path.iterdir()) == [config]
