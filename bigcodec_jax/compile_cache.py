"""JAX's persistent compilation cache for the command-line tools: a rerun loads what it compiled before.

The full-size codec takes seconds to compile per padded batch size on a CPU (minutes over the
two dozen sizes of a large corpus), a training step much longer; with the cache a second run of
the same shapes, or a restart after preemption, loads them instead. A user's own choice wins:
`$JAX_COMPILATION_CACHE_DIR`, or a cache folder already set in `jax.config`.
"""
from __future__ import annotations

import jax

from bigcodec_jax.io import download_cache, paths


def default_folder() -> str:
    """The command-line tools' cache when no other is set: `jax-compilation-cache` in `download_cache.cache_dir()`."""
    return paths.join(download_cache.cache_dir(), "jax-compilation-cache")


def use_persistent_cache(folder: str | None = None) -> str:
    """Point JAX's persistent compilation cache at `folder` (default `default_folder()`) unless the user chose
    one; returns the folder in use."""
    chosen = jax.config.jax_compilation_cache_dir  # $JAX_COMPILATION_CACHE_DIR sets it when JAX is imported
    if chosen:
        return chosen
    folder = folder or default_folder()
    jax.config.update("jax_compilation_cache_dir", folder)
    return folder
