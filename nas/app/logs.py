"""Where the command line sends the ``nas`` logger's lines (stages, trials, synthesized
designs): to stdout when it is not a terminal (a log file, a batch job), where the progress
bar cannot draw; to ``--log-file`` always. On a terminal only the device line is printed: the
bar shows the rest."""

import logging
import sys
from pathlib import Path

from nas.app.render import console
from nas.errors import InvalidValue
from nas.search.progress import DEVICE_LOGGER, LOGGER

FORMAT = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")


class _ConsoleHandler(logging.Handler):
    """Lines through the rich console, which prints them above a live progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        console.print(self.format(record), highlight=False, soft_wrap=True)


def route_logs(log_file: Path | None) -> list[logging.Handler]:
    """Add the CLI's handlers to the ``nas`` logger; returns them for ``unroute_logs``."""
    if sys.stdout.isatty():
        stream: logging.Handler = _ConsoleHandler()
        stream.addFilter(logging.Filter(DEVICE_LOGGER.name))
    else:
        stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(FORMAT)
    handlers: list[logging.Handler] = [stream]
    if log_file is not None:
        try:
            handlers.append(logging.FileHandler(log_file, mode="a"))
        except OSError as error:
            raise InvalidValue("log_file", f"'{log_file}'", "give a file in a writable folder",
                               problem=f"cannot be written ({error.strerror})") from None
        handlers[-1].setFormatter(FORMAT)
    for handler in handlers:
        LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    return handlers


def unroute_logs(handlers: list[logging.Handler]) -> None:
    for handler in handlers:
        LOGGER.removeHandler(handler)
        handler.close()
    LOGGER.setLevel(logging.NOTSET)
