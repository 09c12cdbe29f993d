"""A real sidecar for tests: the production ``Sidecar`` on real sockets (a Unix socket and
127.0.0.1 with free ports), run in its own thread and event loop so synchronous tests and
clients can call it. Nothing of ours is mocked."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.server.app import ServerConfig, Sidecar

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "snapshot.json"
_DEFAULT = object()


@dataclass
class RunningSidecar:
    sidecar: Sidecar
    loop: asyncio.AbstractEventLoop
    authz_tcp: str
    authz_unix: str
    control: str
    token: str
    token_file: Path
    state_dir: Path
    health: str

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the sidecar's loop (e.g. ``sidecar.stop()``)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    @property
    def store(self) -> Any:
        return self.sidecar.store


@contextmanager
def running_sidecar(
    tmp_path: Path, snapshot: Path | object | None = _DEFAULT, **overrides: Any
) -> Iterator[RunningSidecar]:
    """Start a sidecar serving ``snapshot`` (default: examples/snapshot.json; None: no
    snapshot, wait for a push). ``overrides`` are ServerConfig fields."""
    token = secrets.token_hex(16)
    token_file = tmp_path / "control.token"
    token_file.write_text(token + "\n")
    # AF_UNIX paths are limited to ~107 bytes: keep the socket short, unique per test.
    sock_dir = Path("/tmp") / f"iamsc-{secrets.token_hex(4)}"
    sock = sock_dir / "authz.sock"
    state_dir = tmp_path / "state"
    fields: dict[str, Any] = {
        "snapshot": EXAMPLE if snapshot is _DEFAULT else snapshot,
        "listen": (f"unix:{sock}", "127.0.0.1:0"),
        "control": "127.0.0.1:0",
        "control_token_file": token_file,
        "state_dir": state_dir,
        "health_listen": "127.0.0.1:0",
        "drain_grace": 2.0,
        "watch_interval": 0.1,
    }
    fields.update(overrides)
    config = ServerConfig(**fields)
    loop = asyncio.new_event_loop()
    started: Future[Sidecar] = Future()

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            try:
                sidecar = Sidecar(config)
                await sidecar.start()
            except BaseException as exc:
                started.set_exception(exc)
                return
            started.set_result(sidecar)
            await sidecar.wait()

        loop.run_until_complete(main())

    thread = threading.Thread(target=serve, name="sidecar-under-test", daemon=True)
    thread.start()
    sidecar = started.result(timeout=60)
    addrs = sidecar.addresses
    tcp = next((a for a in addrs["authorizer"] if not a.startswith("unix:")), "")
    unix = next((a for a in addrs["authorizer"] if a.startswith("unix:")), "")
    running = RunningSidecar(
        sidecar=sidecar,
        loop=loop,
        authz_tcp=tcp,
        authz_unix=unix,
        control=addrs["control"][0] if addrs["control"] else "",
        token=token,
        token_file=token_file,
        state_dir=state_dir,
        health=addrs["health"][0] if addrs["health"] else "",
    )
    try:
        yield running
    finally:
        if not sidecar._stopped.is_set():
            asyncio.run_coroutine_threadsafe(sidecar.stop(0.5), loop).result(30)
        thread.join(30)
        loop.close()
        for leftover in sock_dir.glob("*"):
            leftover.unlink(missing_ok=True)
        sock_dir.rmdir() if sock_dir.exists() else None
