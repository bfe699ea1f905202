"""A real PostgreSQL server for the engine tests, started from Debian's binaries.

``initdb`` into a temporary folder (password authentication over TCP, so a wrong password is
refused as on a real server), ``pg_ctl start`` on a free 127.0.0.1 port with the socket in the
same folder; as root the server runs as the ``postgres`` user. :func:`find_binaries` says why
when the binaries are missing.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Install command named when the server binaries are missing.
INSTALL_HINT = "apt-get install postgresql (Debian/Ubuntu), which provides initdb and pg_ctl"

USER = "crm"
PASSWORD = "s3cret-pg-pw"
DATABASE = "crm"

#: canonical Ibis type -> PostgreSQL column type
PG_TYPES = {
    "string": "text",
    "timestamp": "timestamp",
    "float64": "double precision",
    "int64": "bigint",
    "date": "date",
}


def find_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb and pg_ctl, else None."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    found = [p for p in found if (p / "pg_ctl").exists()]
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: connect as :data:`USER` with :data:`PASSWORD` on ``port``."""

    bindir: Path
    folder: Path
    port: int
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """The url a params file names (no password in it)."""
        return f"postgresql://{USER}@{self.host}:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    def start(self) -> None:
        """initdb, start, create the database; raises RuntimeError with the server's log."""
        data, pwfile = self.folder / "data", self.folder / "pw"
        pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(pwfile, "postgres")
        done = self._run(
            self.bindir / "initdb", "-D", data, "-U", USER, f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses={self.host} -c fsync=off"
        done = self._run(
            self.bindir / "pg_ctl", "-D", data, "-o", opts, "-l", self.folder / "log", "-w",
            "start",
        )  # fmt: skip
        if done.returncode:
            log = (self.folder / "log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl start failed: {done.stderr}\n{log}")
        done = self._run(
            self.bindir / "createdb", "-h", self.folder, "-p", str(self.port), "-U", USER, DATABASE
        )
        if done.returncode:
            raise RuntimeError(f"createdb failed: {done.stderr}")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        self._run(self.bindir / "pg_ctl", "-D", self.folder / "data", "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def connect(self):  # noqa: ANN201 - an Ibis postgres backend
        """An Ibis connection as :data:`USER`, over TCP with the password."""
        import ibis

        return ibis.postgres.connect(
            host=self.host, port=self.port, user=USER, password=PASSWORD, database=DATABASE
        )


def start_server(bindir: Path) -> PostgresServer:
    """Start a fresh server from ``bindir`` in a new temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="crm-pg-"))
    os.chmod(folder, 0o700)
    server = PostgresServer(bindir=bindir, folder=folder, port=_free_port())
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


def copy_frame(server: PostgresServer, name: str, frame: Any, types: dict[str, str]) -> None:
    """Create table ``name`` (dropped first) on ``server`` and fill it with COPY from CSV."""
    import psycopg

    cols = ", ".join(f'"{c}" {PG_TYPES[t]}' for c, t in types.items())
    buf = io.StringIO()
    frame[list(types)].to_csv(buf, index=False, header=False, na_rep="\\N")
    with psycopg.connect(
        host=server.host, port=server.port, user=USER,
        password=PASSWORD, dbname=DATABASE,
    ) as conn:  # fmt: skip
        conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        conn.execute(f'CREATE TABLE "{name}" ({cols})')
        with conn.cursor().copy(f"COPY \"{name}\" FROM STDIN WITH (FORMAT csv, NULL '\\N')") as cp:
            cp.write(buf.getvalue())
