"""Each job's log file: everything a stage prints, errors included, also goes to `--log`.

Both runners pass the same path (Snakemake's `log:`, the same argument in
dvc.yaml), so a job's output is in one file whichever runner or cluster ran
it. The copy is made at the level of the process's stdout and stderr file
descriptors, so it holds what Python, Keras, TensorFlow's C++ code and child
processes (the report's notebook kernel) write. On the console each line of
a run's job starts with the run's name, so the lines of jobs running side by
side can be told apart, and TensorFlow's C++ log lines (start-up notes that
TF_CPP_MIN_LOG_LEVEL does not silence) are left out; the log file keeps them.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from stages.lib.errors import user_error

# absl's format: severity letter, month and day, time, thread, file:line] message.
TF_NATIVE_LOG = re.compile(rb"^([IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] |WARNING: All log messages before absl)")


def _pump(source: int, console: int, log, lock: threading.Lock, prefix: bytes) -> None:
    """Copy lines from the pipe `source` to the log file and (prefixed) to the console."""
    pending = b""
    with os.fdopen(source, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            _emit([line + b"\n" for line in lines], console, log, lock, prefix)
    if pending:
        _emit([pending + b"\n"], console, log, lock, prefix)


def _emit(lines: list[bytes], console: int, log, lock: threading.Lock, prefix: bytes) -> None:
    with lock:
        log.write(b"".join(lines))
        log.flush()
    shown = b"".join(prefix + line for line in lines if not TF_NATIVE_LOG.match(line))
    if shown:
        os.write(console, shown)


@contextlib.contextmanager
def tee_output(log_path: str | os.PathLike, prefix: str = "") -> Iterator[None]:
    """Send this process's stdout and stderr to `log_path` as well as to the console."""
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    lock = threading.Lock()
    with open(path, "wb") as log:
        saved, threads = {}, []
        for fd in (1, 2):
            read_end, write_end = os.pipe()
            saved[fd] = os.dup(fd)
            os.dup2(write_end, fd)
            os.close(write_end)
            thread = threading.Thread(target=_pump, args=(read_end, saved[fd], log, lock, prefix.encode()), daemon=True)
            thread.start()
            threads.append(thread)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, original in saved.items():
                os.dup2(original, fd)  # closes the pipe's last write end: the pump sees its end
            for thread in threads:
                thread.join(timeout=10)
            for original in saved.values():
                os.close(original)


def run_stage(
    body: Callable[[], object],
    log: str | None,
    prefix: str = "",
    code: int = 1,
    interrupted: str = "no output is half-written; run it again",
) -> int:
    """Run a stage's core function with its output copied to `log`; return the exit status.

    A PipelineError is a failure the user can cause and fix (bad input, a missing file):
    one line naming the problem and the log, exit `code`; so is an OSError about a
    path (unreadable, a folder, a full disk). Ctrl-C (SIGINT, which a runner passes on
    to its jobs) is one line too, saying `interrupted`, with the shell's status 130,
    also when a library turned it into an error of its own on the way out (TensorFlow
    raises a RuntimeError about its device scope chained to the KeyboardInterrupt).
    Anything else is a bug and shows its traceback, in the log too.
    """
    context = tee_output(log, f"[{prefix}] " if prefix else "") if log else contextlib.nullcontext()
    where = f" (log: {log})" if log else ""
    with context:
        try:
            body()
        except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 - a bug is shown in full, in the log as well
            if _caused_by_interrupt(err):
                print(f"error: interrupted{where}: {interrupted}", file=sys.stderr)
                return 130
            if (message := user_error(err)) is not None:
                print(f"error: {message}{where}", file=sys.stderr)
                return code
            traceback.print_exc()
            print(f"error: unexpected failure{where}", file=sys.stderr)
            return 1
    return 0


def _caused_by_interrupt(err: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in the chain of exceptions that led to `err`."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False
