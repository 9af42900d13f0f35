"""The project's own error type: a failure the user can cause and fix.

A stage's CLI (stages.lib.joblog.run_stage) prints a PipelineError as one line
that names the problem (which key, which file, which value) and exits non-zero;
any other exception is a bug and shows its traceback. Each module raises a
subclass that says where the problem lies (ParamsError, DataError, ...).

PipelineError is a ValueError, so that code which checks a value
(`except ValueError`) also sees the project's refusals of bad values.
"""


class PipelineError(ValueError):
    """Bad input, a missing or damaged file, a setting the stage cannot use; one-line message."""


class InputError(PipelineError):
    """An input file of a stage is missing or is not what the stage that wrote it writes."""


def user_error(err: BaseException) -> str | None:
    """The one line for a failure the user can cause and fix: a PipelineError, or an OSError about
    a path (a folder where a file belongs, no permission, a full disk) in the system's words.
    None for anything else: a bug, to be shown with its traceback."""
    if isinstance(err, PipelineError):
        return str(err)
    if isinstance(err, OSError) and err.filename is not None:
        return f"{err.filename}: {err.strerror}"
    return None
