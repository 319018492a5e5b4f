"""Device mesh and sharding rules: batch over (`data`, `fsdp`), large tensors over `fsdp` by name.

The rules are the training config's `sharding.rules`: a rule is `(regex, axis)`, and the first rule
whose regex matches a tensor's path (`a/b/c`) says which axis to split over the `fsdp` mesh axis.
Optimiser moments end with their parameter's path, so the same rules shard them alike. Tensors
smaller than `sharding.min_shard_size`, with no matching rule, or whose axis does not divide evenly
stay replicated. With several processes the mesh spans every process's devices.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXES = ("data", "fsdp")
BATCH_SPEC = P(AXES)  # examples split over every device


def make_mesh(config: ml_collections.ConfigDict, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A (`data`, `fsdp`) mesh over `devices` (default: all); a -1 entry takes the remaining devices."""
    devices = list(devices if devices is not None else jax.devices())
    data, fsdp = config.mesh.data, config.mesh.fsdp
    if data == -1:
        data = len(devices) // fsdp
    if fsdp == -1:
        fsdp = len(devices) // data
    if data * fsdp != len(devices):
        raise ValueError(f"config.mesh: data={config.mesh.data} x fsdp={config.mesh.fsdp} does not use the "
                         f"{len(devices)} devices")
    return Mesh(mesh_utils.create_device_mesh((data, fsdp), devices), AXES)


def path_name(path) -> str:
    """A tree path as "a/b/c" (dict keys, attribute names and sequence indices alike)."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def leaf_spec(name: str, shape: tuple[int, ...], fsdp: int, min_size: int, rules: Sequence[tuple[str, int]]) -> P:
    """The PartitionSpec of one tensor under the rules."""
    if fsdp == 1 or not shape or int(np.prod(shape)) < min_size:
        return P()
    for pattern, axis in rules:
        if re.search(pattern, name):
            axis %= len(shape)
            if shape[axis] % fsdp:
                return P()
            return P(*[("fsdp" if a == axis else None) for a in range(len(shape))])
    return P()


def tree_shardings(tree: Any, mesh: Mesh, rules: ml_collections.ConfigDict) -> Any:
    """NamedShardings for every leaf of `tree` (arrays or ShapeDtypeStructs), by `rules` (the training
    config's `sharding`: `rules` and `min_shard_size`)."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: NamedSharding(mesh, leaf_spec(path_name(path), tuple(leaf.shape), fsdp,
                                                         rules.min_shard_size, rules.rules)),
        tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, BATCH_SPEC)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def global_batch(local: np.ndarray, mesh: Mesh) -> jax.Array:
    """This host's rows of the batch -> one global array sharded over the mesh (works on one host too)."""
    return jax.make_array_from_process_local_data(batch_sharding(mesh), local)
