"""Distribution files for test indexes: synthetic builders and a reader for real ones.

Why one subpackage: an index fixture serves files that either a test made on the fly
(:func:`build_wheel`, :func:`build_sdist`, :func:`build_dists`) or that came from
elsewhere (:func:`inspect_dist`); both give a :class:`DistFile`, so the server code has
a single shape to serve.
"""

from __future__ import annotations

from .backend import backend_source
from .build import (
    DEFAULT_TAG,
    DistFile,
    DistKind,
    build_dists,
    build_sdist,
    build_wheel,
    sdist_filename,
    wheel_filename,
)
from .inspect import inspect_dist

__all__ = [
    "DEFAULT_TAG",
    "DistFile",
    "DistKind",
    "backend_source",
    "build_dists",
    "build_sdist",
    "build_wheel",
    "inspect_dist",
    "sdist_filename",
    "wheel_filename",
]
