"""Giving freed memory back to the system after a large computation.

An analysis on millions of customers allocates and frees arrays of tens of megabytes. The C
allocator (glibc's ``malloc``) and Arrow's memory pool keep much of what was freed for later
use, so a notebook's resident memory stays near its last peak while it draws charts and writes
text; the notebook running beside it in a pack then peaks on top of that. :func:`release_memory`
returns the free pages: the cached analyses (:func:`crmlib.data.results.cached`) call it after
computing a result. It costs a few milliseconds and changes no value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa

__all__ = ["release_memory"]


@functools.cache
def _malloc_trim() -> object | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_memory() -> None:
    """Return the free memory of the C allocator and of Arrow's pool to the system."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]
