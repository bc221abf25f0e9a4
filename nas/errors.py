"""Exceptions for problems a user can fix. Library code raises them with plain wording (what is
wrong and how to fix it, no command-line flags); the CLI prints them on one line, naming the
flag where a setting came from one, and exits with code 2."""

import errno
import re
from collections.abc import Callable
from typing import Any


class NasError(Exception):
    """A problem the user can fix: the message names it and the fix."""


class InvalidValue(NasError, ValueError):
    """A setting with a bad value. ``name`` is the setting's name (``trials``, ``clock_mhz``);
    ``fix`` may name other settings as ``{name}``. The message calls settings by their names;
    the CLI calls them by the flags they came from (``--trials``, ``--clock-mhz``)."""

    def __init__(self, name: str, value: Any, fix: str, problem: str = "is out of range"):
        self.name, self.value, self.fix, self.problem = name, value, fix, problem
        super().__init__(self.worded(lambda setting: setting))

    def worded(self, label: Callable[[str], str]) -> str:
        """The message with each setting called ``label(name)``."""
        fix = re.sub(r"\{(\w+)\}", lambda match: label(match.group(1)), self.fix)
        return f"{label(self.name)} {self.value} {self.problem}: {fix}"


class DataError(NasError, ValueError):
    """A file the user gave (data, space, calibration, report) cannot be used as it is."""


class StudyError(NasError):
    """A study is missing, or cannot be continued as asked."""


class ToolError(NasError):
    """An external tool or service is missing or does not answer."""


class DataWarning(UserWarning):
    """Data that will work, but not as well as they could: the message names the fix."""


class BitExactnessError(NasError):
    """Firmware does not reproduce the trained model closely enough."""


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` says that a disk (or the user's quota on it) is full."""
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)
