"""Freed memory goes back to the system after a cached computation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psutil
import pytest

from crmlib.data import memory, results
from crmlib.data.results import cached


def test_freed_heap_memory_is_returned() -> None:
    """Blocks below the allocator's mmap threshold stay in the process when freed (a small
    block allocated after them pins the heap); :func:`release_memory` gives the pages back."""
    if memory._malloc_trim() is None:
        pytest.skip("the C library has no malloc_trim (glibc only): nothing to release")
    process = psutil.Process()
    blocks = [bytearray(100_000) for _ in range(3000)]  # about 300 MB, touched
    for block in blocks:
        block[::4096] = b"\x01" * len(block[::4096])
    pinned = [bytearray(100) for _ in range(1000)]
    del blocks
    held = process.memory_info().rss
    memory.release_memory()
    released = process.memory_info().rss
    assert held - released > 200 * 2**20, (held, released)
    assert len(pinned) == 1000


def test_a_cached_computation_releases_what_it_freed(
    demo_params: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crmlib.data import load_dataset

    monkeypatch.setenv(results.ENV, "1")
    monkeypatch.setenv("CRMWB_PROJECT_DIR", str(tmp_path))
    (tmp_path / "params").mkdir()
    calls: list[str] = []
    monkeypatch.setattr(results, "release_memory", lambda: calls.append("released"))

    @cached("test_memory.count")
    def count(transactions: object) -> pd.DataFrame:
        return pd.DataFrame({"n": [int(transactions.count().execute())]})

    import yaml

    params = yaml.safe_load(demo_params.read_text(encoding="utf-8"))
    data = load_dataset({"transactions": params["transactions"],
                         "cache_dir": str(tmp_path / "cache"),
                         "quarantine_dir": str(tmp_path / "quarantine")})  # fmt: skip
    first = count(data.transactions)
    again = count(data.transactions)  # read back: nothing computed, nothing to release
    assert calls == ["released"]
    pd.testing.assert_frame_equal(first, again)
    assert first["n"].iloc[0] > 0
