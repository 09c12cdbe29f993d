"""Pieces the benchmark sections share: waiting for a server child's ready line, and
printing a section when a bench module runs on its own."""

from __future__ import annotations

import contextlib
import json
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wait_ready(proc: subprocess.Popen[str], what: str, timeout: float) -> dict[str, Any]:
    """The first JSON line a server child prints on stdout, which must say ``"ready": true``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([proc.stdout], [], [], left)
        if not readable:
            break
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} exited ({proc.wait(5)}) before it was ready")
        with contextlib.suppress(ValueError):
            info: dict[str, Any] = json.loads(line)
            if not info.get("ready"):
                raise RuntimeError(f"{what} is not ready: {info}")
            return info
    raise RuntimeError(f"{what} not ready after {timeout:g} s")


def print_standalone(
    g: dict[str, Any], render_section: Callable[[dict[str, Any]], list[str]], json_path: str | None
) -> int:
    """A section's report on stdout (and its JSON), for ``python bench/<section>.py``."""
    print("\n".join(render_section(g)))
    print()
    for t in g["targets"]:
        print(f"- {t['target']}: {t['measured']} — {'met' if t['met'] else 'NOT met'}")
    if json_path:
        Path(json_path).write_text(json.dumps(g, indent=1) + "\n", encoding="utf-8")
    return 0
