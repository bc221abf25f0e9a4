"""A throw-away PostgreSQL server on 127.0.0.1 (Debian's binaries), for tests and benchmarks."""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> bool:
    return bool(_pg_bin("initdb") and _pg_bin("pg_ctl"))


def _as_postgres(command: list[str]) -> list[str]:
    """initdb refuses root: run the server's commands as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def postgres_server():
    """Start a server in a temporary folder, yield its SQLAlchemy URL, stop and delete it."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    # Not under pytest's tmp folders: those are closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        subprocess.run(_as_postgres([initdb, "-D", str(data), "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
        subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-o", options, "-l",
                                     str(folder / "log"), "-w", "start"]), check=True,
                       capture_output=True)
        subprocess.run(_as_postgres([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port),
                                     "-U", "postgres", "nas"]), check=True, capture_output=True)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/nas"
    finally:
        if data.exists():
            subprocess.run(_as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "stop"]),
                           capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def restart(url: str) -> None:
    """Restart the server of ``url`` (one this module started): every connection drops."""
    port = url.rsplit(":", 1)[1].split("/")[0]
    data = next(Path(d) / "data" for d in glob.glob(f"{tempfile.gettempdir()}/nas-pg-*")
                if (Path(d) / f".s.PGSQL.{port}").exists())
    # The restarted server would hold captured pipes open (and this call with them): log to a file.
    subprocess.run(_as_postgres([_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-l",
                                 str(data.parent / "log"), "restart"]), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


@contextlib.contextmanager
def server_or_skip():
    """A fresh server's URL, or the test skipped with the reason."""
    import pytest

    if not available():
        pytest.skip("PostgreSQL server binaries not found: .ci/run installs Debian's postgresql")
    with postgres_server() as url:
        yield url


def drop_connections(url: str) -> int:
    """End every other session on the server of ``url`` from its side (what a server restart,
    a network cut or an administrator does to one client); returns how many ended."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            ended = connection.execute(sqlalchemy.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).fetchall()
    finally:
        engine.dispose()
    return sum(bool(row[0]) for row in ended)
