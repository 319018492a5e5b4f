"""Run one train step on 1 device and on a (data=4, fsdp=2) mesh of 8 simulated CPU devices; print the
largest differences as JSON. Needs XLA_FLAGS=--xla_force_host_platform_device_count=8 (set by the test)."""
import importlib.util
import json
import os

import jax
import numpy as np

from bigcodec_jax.training import sharding, trainer
from bigcodec_jax.training.state import build_models

_spec = importlib.util.spec_from_file_location(
    "fast", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_configs", "fast.py"))
_fast = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fast)
config = _fast.get_config()                # a small graph: sharding, not the architecture, is under test
config.sharding.min_shard_size = 1         # shard every tensor whose axis divides evenly
models = build_models(config)
wav = np.random.default_rng(0).uniform(-0.5, 0.5, (8, 4000)).astype(np.float32)


def run(devices, data, fsdp):
    config.mesh.data, config.mesh.fsdp = data, fsdp
    mesh = sharding.make_mesh(config, devices)
    _, shardings = trainer.state_layout(models, config, mesh)
    state = trainer.initial_state(models, config, None, shardings)
    initial = jax.device_get(state.gen_params)
    step = trainer.sharded_train_step(models, config, mesh, shardings)
    with jax.default_matmul_precision("highest"):
        for _ in range(2):
            state, metrics = step(state, sharding.global_batch(wav, mesh))
    sharded = sum(1 for s in jax.tree.leaves(shardings) if not s.is_fully_replicated)
    return jax.device_get(state), jax.device_get(metrics), sharded, jax.device_get(initial)


one, m_one, _, init = run(jax.devices()[:1], 1, 1)
many, m_many, n_sharded, _ = run(jax.devices(), 4, 2)
loss_rel = max(abs(float(m_one[k]) - float(m_many[k])) / max(abs(float(m_one[k])), 1e-12)
               for k in m_one if k.startswith("loss/"))
# generator updates after two steps, compared relative to the largest update
update_one = [a - i for a, i in zip(jax.tree.leaves(one.gen_params), jax.tree.leaves(init))]
update_many = [b - i for b, i in zip(jax.tree.leaves(many.gen_params), jax.tree.leaves(init))]
largest = max(float(np.max(np.abs(a))) for a in update_one)
update_rel = max(float(np.max(np.abs(a - b))) for a, b in zip(update_one, update_many)) / largest
# Adam amplifies rounding where a gradient is close to zero: count the elements that differ visibly
off = sum(int(np.sum(np.abs(a - b) > 1e-4 * largest)) for a, b in zip(update_one, update_many))
off_fraction = off / sum(a.size for a in update_one)
print(json.dumps({"devices": jax.device_count(), "sharded_tensors": n_sharded, "loss_rel": loss_rel,
                  "update_rel": update_rel, "off_fraction": off_fraction}))
