"""Start and stop the service under a WSGI server, as a separate process."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

BIN = Path(sys.executable).parent
FACTORY = "secureflaskauth.app:create_app"
# "serve" is `secureflaskauth serve` as shipped (uvicorn workers under gunicorn's
# arbiter, Flask behind server/bridge.py); "serve-threads" the same with every request
# handed to a thread (none run on the event loop: api/inline.py); "gthread" and
# "gunicorn-asgi" are the same
# command with gunicorn's own threaded worker (Flask as WSGI) and asyncio worker (Flask
# behind the bridge); "granian" and "waitress" serve Flask as WSGI themselves, and
# "granian-asgi" serves it behind the bridge on granian's asyncio interface.
# "naive" is the naive reference (bench/naive.py: Flask + PyJWT, nothing else) under
# exactly the service's server and budget, the baseline of the protected endpoint;
# "naive-sync" is the same app under gunicorn's sync workers, as such apps are often run.
SERVERS = (
    "serve",
    "serve-threads",
    "gthread",
    "gunicorn-asgi",
    "granian",
    "granian-asgi",
    "waitress",
    "naive",
    "naive-sync",
)
NAIVE = "naive"
NAIVE_SYNC = "naive-sync"
_LAUNCH = {"gthread": "gthread", "gunicorn-asgi": "asgi", NAIVE: NAIVE, "serve-threads": "threads"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tool(name: str) -> str | None:
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


def available(server: str) -> bool:
    if server in ("serve", NAIVE_SYNC, *_LAUNCH):
        return True
    tool = {"granian": "granian", "granian-asgi": "granian", "waitress": "waitress-serve"}
    return _tool(tool[server]) is not None


def command(server: str, port: int, workers: int, threads: int) -> list[str]:
    """The command line of ``server`` serving the app with this worker/thread budget."""
    if server == "serve":
        # Exactly what `secureflaskauth serve` runs (SFA_* settings).
        tool = _tool("secureflaskauth")
        return [tool, "serve"] if tool else [sys.executable, "-m", "secureflaskauth.cli", "serve"]
    if server in _LAUNCH:
        return [sys.executable, str(Path(__file__).with_name("launch.py")), _LAUNCH[server]]
    if server == NAIVE_SYNC:
        return [
            str(_tool("gunicorn")),
            *("--workers", str(workers), "--worker-class", "sync"),
            *("--bind", f"127.0.0.1:{port}", "--log-level", "warning"),
            *("--pythonpath", str(Path(__file__).resolve().parent.parent)),
            "bench.naive:create_app()",
        ]
    if server == "granian":
        return [
            str(_tool("granian")),
            *("--interface", "wsgi", "--factory", "--http", "1", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            *("--workers", str(workers), "--blocking-threads", str(threads)),
            FACTORY,
        ]
    if server == "granian-asgi":
        # Flask behind the service's bridge, on granian's asyncio interface.
        return [
            str(_tool("granian")),
            *("--interface", "asgi", "--factory", "--http", "1", "--no-ws"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
            # The same head deadline as `serve` (server/protocol.py).
            *("--workers", str(workers), "--http1-header-read-timeout", "10000"),
            *("--working-dir", str(Path(__file__).parent), "launch:asgi_app"),
        ]
    if server == "waitress":
        # One process only: waitress has no worker processes, so it gets all the threads.
        return [
            str(_tool("waitress-serve")),
            *("--host", "127.0.0.1", "--port", str(port)),
            *("--threads", str(workers * threads), "--call", FACTORY),
        ]
    raise ValueError(f"unknown server {server!r}")


@dataclass
class Server:
    """A running server process; stopped with SIGTERM (graceful) when the block ends."""

    name: str
    port: int
    env: dict[str, str]
    cwd: Path
    workers: int
    threads: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.cwd / f"{self.name}-{self.port}.log"

    def __enter__(self) -> Server:
        argv = command(self.name, self.port, self.workers, self.threads)
        env = {**self.env, "SFA_PORT": str(self.port)}
        env["SFA_WORKERS"] = str(self.workers)
        env["SFA_THREADS"] = str(self.threads)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own fixed command line
                argv,
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: no orphaned workers
            )
        try:
            self._wait_ready(timeout=90.0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def base_env(tmp: Path, secret_key: str) -> dict[str, str]:
    """The environment of every server in a run: a temp SQLite database, the outbox
    SMS backend without console echo, per-IP limits off and per-account limits
    raised so they never fire. Every other setting keeps its (production) default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFA_")}
    generous = "1000000/minute"
    env.update(
        {
            "SFA_ENV": "development",  # production mode refuses the outbox
            "SFA_HOST": "127.0.0.1",
            "SFA_DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
            "SFA_VAR_DIR": str(tmp / "var"),
            "SFA_SECRET_KEY": secret_key,
            "SFA_SMS_BACKEND": "outbox",
            "SFA_SMS_ECHO": "false",
            "SFA_RATE_LIMITS": "off",
            "SFA_OTP_TTL_SECONDS": "600",  # the prepared codes must outlive the run
            **{
                f"SFA_LIMIT_{step}_ACCOUNT": generous
                for step in ("REGISTER", "LOGIN", "VERIFY", "RESEND")
            },
            # One bench number receives every code: lift the SMS caps too.
            **{
                f"SFA_LIMIT_SMS_{scope}": generous
                for scope in (
                    "NUMBER",
                    "PREFIX",
                    "ACCOUNT",
                    "UNVERIFIED_NUMBER",
                    "UNVERIFIED_ACCOUNT",
                )
            },
            "SFA_SMS_HOURLY_BUDGET": "100000000",
            "SFA_SMS_UNVERIFIED_HOURLY_BUDGET": "99999999",
        }
    )
    return env
