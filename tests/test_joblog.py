"""A job's log (stages/lib/joblog.py): what a stage prints goes to its log and, run-named, to the console."""

import signal
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = """
import os, signal, sys, time
from stages.lib.errors import PipelineError
from stages.lib.joblog import run_stage

def body():
    print("from python", flush=True)
    # As TensorFlow's C++ code writes: straight to the file descriptors, in absl's format.
    os.write(2, b"I0000 00:00:1795468239.709333    9349 port.cc:153] oneDNN custom operations are on.\\n")
    os.write(1, b"from the C level\\n")
    if sys.argv[1] == "bad-input":
        raise PipelineError("bad input")
    if sys.argv[1] == "bug":
        raise ValueError("a bug")  # a builtin error is a bug: its traceback is shown
    if sys.argv[1] == "ctrl-c":
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C in a terminal, or a runner passing it on
        time.sleep(10)
    if sys.argv[1] == "ctrl-c-in-a-library":
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)
        finally:  # as TensorFlow's device scope, left by the KeyboardInterrupt
            raise RuntimeError("Exiting device scope without proper scope nesting")

sys.exit(run_stage(body, sys.argv[2] if len(sys.argv) > 2 else None, prefix="mlp"))
"""


def stage(*args):
    # SIGINT as in a terminal: a shell starts background jobs (CI's, perhaps) with it ignored.
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_the_log_has_everything_and_the_console_names_the_run(tmp_path):
    log = tmp_path / "logs" / "train" / "mlp.log"
    result = stage("ok", log)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["[mlp] from python", "[mlp] from the C level"]
    assert result.stderr == ""  # TensorFlow's C++ line stays off the console ...
    assert sorted(log.read_text().splitlines()) == sorted(
        [  # ... and is kept in the log
            "from python",
            "from the C level",
            "I0000 00:00:1795468239.709333    9349 port.cc:153] oneDNN custom operations are on.",
        ]
    )


@pytest.mark.parametrize(
    "case, last_line, status",
    [
        ("bad-input", "error: bad input (log: {log})", 1),
        ("bug", "error: unexpected failure (log: {log})", 1),
        ("ctrl-c", "error: interrupted (log: {log}): no output is half-written; run it again", 130),
        # A library's own error on the way out of Ctrl-C is still Ctrl-C, not a bug.
        ("ctrl-c-in-a-library", "error: interrupted (log: {log}): no output is half-written; run it again", 130),
    ],
)
def test_a_failure_ends_with_one_line_naming_the_log(tmp_path, case, last_line, status):
    log = tmp_path / "mlp.log"
    result = stage(case, log)
    assert result.returncode == status
    assert result.stderr.splitlines()[-1] == "[mlp] " + last_line.format(log=log)
    text = log.read_text()
    # (stdout and stderr reach the log through two pipes: their lines may interleave either way)
    assert last_line.format(log=log) in text.splitlines()
    # A user's mistake is one line; a bug shows its traceback, in the log as well.
    assert ("Traceback" in text and "ValueError: a bug" in text) == (case == "bug")
    assert ("Traceback" in result.stderr) == (case == "bug")


def test_without_a_log_the_output_is_left_alone():
    result = stage("bad-input")
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["from python", "from the C level"]
    assert result.stderr.splitlines()[-1] == "error: bad input"
