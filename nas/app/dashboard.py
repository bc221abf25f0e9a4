"""Serve optuna-dashboard until Ctrl-C or SIGTERM, stopping between two requests.

``optuna_dashboard.run_server`` lets the signal raise ``KeyboardInterrupt`` wherever the server
happens to be, inside a request holding a storage lock too; a process stopped there could hang
at exit (CI saw one outlive its SIGTERM by 30 s). Here the signal only sets a flag, which the
serving loop reads between requests."""

import signal
import threading
from collections.abc import Callable
from wsgiref.simple_server import make_server

from nas.errors import InvalidValue

#: How long one wait for a request lasts, so that a stop is seen within it.
_POLL_S = 0.5


def serve(app: Callable, port: int) -> None:
    """Serve the WSGI ``app`` on 127.0.0.1:``port`` until Ctrl-C or SIGTERM."""
    stop = threading.Event()
    previous = {number: signal.signal(number, lambda *_: stop.set())
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        with _bound_server(app, port) as server:
            server.timeout = _POLL_S
            while not stop.is_set():
                server.handle_request()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _bound_server(app: Callable, port: int):
    try:
        return make_server("127.0.0.1", port, app)
    except OSError as error:
        raise InvalidValue("port", port, "choose a free port with --port",
                           problem=f"cannot be opened ({error.strerror})") from None
