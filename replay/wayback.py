"""Run pywb's ``wayback`` as a subprocess (never imported here: it patches a process with gevent).

``Wayback(collections_dir, host, port).start()`` launches it with the collections folder as its
working directory. With port 0 the OS chooses the port; it is read back from ``/proc`` (the
listening socket of the child), so there is no race between choosing and binding. Every wait is
bounded; a port in use or an early exit is a ``ReplayServerError`` with the log's last lines.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from archive.errors import BewaarError
from replay.collections import venv_tool


class ReplayServerError(BewaarError):
    """The replay server could not start (port in use, bad configuration, pywb missing)."""


def port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise ReplayServerError(f"cannot bind {host}:{port}: {exc.strerror}") from None
    return True


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    with contextlib.suppress(OSError):
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def listening_ports(pid: int) -> list[int]:
    """The TCP ports a process listens on, from /proc (Linux)."""
    inodes = _socket_inodes(pid)
    ports: list[int] = []
    if not inodes:
        return ports
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            next(fh, None)
            for line in fh:
                parts = line.split()
                if len(parts) > 9 and parts[3] == "0A" and parts[9] in inodes:
                    ports.append(int(parts[1].rsplit(":", 1)[1], 16))
    return ports


_prctl: Any = None


def _term_with_parent() -> None:
    """In the child before exec: ask Linux for SIGTERM when the parent goes (``_prctl`` was
    looked up before the fork: nothing is imported or loaded in the child)."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _load_prctl() -> None:
    global _prctl  # noqa: PLW0603
    if _prctl is None:
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            _prctl = ctypes.CDLL(None, use_errno=True).prctl


class Wayback:
    """One ``wayback`` process over a collections folder."""

    def __init__(self, collections_dir: Path, host: str = "127.0.0.1", port: int = 0,
                 log_path: Path | None = None, start_timeout: float = 60.0,
                 die_with_parent: bool = False, tool: str = "wayback") -> None:
        self.collections_dir = Path(collections_dir)
        self.host = host
        self.port = port
        self.log_path = log_path or self.collections_dir / "wayback.log"
        self.start_timeout = start_timeout
        # Linux: SIGTERM when the thread that launched it ends (even killed with -9): a QA
        # server lives no longer than the harvest that started it.
        self.die_with_parent = die_with_parent
        # "wayback" (the replay front end) or "warcserver" (pywb's record server alone, which
        # the front end asks for every replay: what replay QA asks, at a third of the CPU).
        self.tool = tool
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-8:])

    def launch(self) -> Wayback:
        """Start the process without waiting for it (see ``wait_ready``)."""
        if self.port and not port_free(self.host, self.port):
            raise ReplayServerError(f"port {self.port} on {self.host} is in use; choose another --port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.die_with_parent:
            _load_prctl()
        log = open(self.log_path, "ab")  # noqa: SIM115  (handed to the child)
        try:
            self.proc = subprocess.Popen(
                [venv_tool(self.tool), "-b", self.host, "-p", str(self.port)],
                cwd=self.collections_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_term_with_parent if self.die_with_parent else None,
            )
        finally:
            log.close()
        return self

    def wait_ready(self) -> Wayback:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self._log_tail()
                self.proc = None
                if "Address already in use" in tail:
                    raise ReplayServerError(f"port {self.port} on {self.host} is in use")
                raise ReplayServerError(f"{self.tool} exited at start:\n{tail}")
            # wayback also runs its internal index server on a port of its own: the front end
            # is the one whose home page is HTML.
            for port in [self.port] if self.port else listening_ports(self.proc.pid):
                if self._is_front_end(port):
                    self.port = port
                    return self
            time.sleep(0.05)
        self.stop()
        raise ReplayServerError(
            f"{self.tool} did not answer within {self.start_timeout:.0f} s")

    def start(self) -> Wayback:
        return self.launch().wait_ready()

    def _is_front_end(self, port: int) -> bool:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        try:
            r = httpx.get(f"http://{host}:{port}/", timeout=2.0)
        except httpx.HTTPError:
            return False
        if self.tool != "wayback":
            return True  # a warcserver has no home page and no second port: any answer
        return r.status_code == 200 and r.headers.get("content-type", "").startswith("text/html")

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def poll(self) -> int | None:
        """None while wayback runs, else its exit code."""
        return self.proc.poll() if self.proc is not None else -1

    def __enter__(self) -> Wayback:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
