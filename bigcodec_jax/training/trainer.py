"""The training loop: set-up, exact resume, jitted sharded steps, logging, checkpoints, clean stop.

`train(config, workdir)` continues from the newest checkpoint in `workdir` when there is one,
else starts from `config.init_from` (official or converted weights) or from scratch. With several
processes (`bigcodec_jax.distributed`) every process runs this same loop over one mesh of all
devices, reads its own slice of each batch, and writes its shards of each checkpoint; process 0
writes the logs. The loop never waits for the devices except to log, evaluate or checkpoint.
"""
from __future__ import annotations

import logging
import time

import jax
import ml_collections
import numpy as np
import tqdm

from bigcodec_jax import data, distributed
from bigcodec_jax.audio import SAMPLE_RATE, pad_to_multiple
from bigcodec_jax.checkpoints import pretrained, run_dir
from bigcodec_jax.codec.config import hop_length
from bigcodec_jax.evaluation.plots import mel_comparison_image
from bigcodec_jax.training import sharding
from bigcodec_jax.training.checkpointing import Checkpointer
from bigcodec_jax.training.config import validate
from bigcodec_jax.training.heldout_metrics import HeldOutEvaluation, host_params
from bigcodec_jax.training.preemption import Preempted, StopSignal
from bigcodec_jax.training.state import Models, TrainState, build_models, create_state, init_params
from bigcodec_jax.training.step import make_train_step
from bigcodec_jax.training.writer import MetricWriter

log = logging.getLogger(__name__)

EXAMPLE_SECONDS = 4.0  # held-out examples are cut to this length
EXAMPLE_COUNT = 4


class TrainingDiverged(RuntimeError):
    """Too many consecutive updates were skipped because losses or gradients were not finite."""


def _use_init_from(config: ml_collections.ConfigDict) -> dict:
    """Weights of `config.init_from`; the model config becomes the checkpoint's."""
    model_config, params = pretrained.load(config.init_from)
    if model_config.to_dict() != config.model.to_dict():
        log.warning("config.model replaced by the model config of %s", config.init_from)
    with config.unlocked():
        config.model = model_config
    return params


def state_layout(models: Models, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh):
    """(abstract TrainState, its shardings on `mesh` by the config's rules)."""
    abstract = jax.eval_shape(lambda rng: create_state(models, *init_params(models, config, rng)),
                              jax.random.PRNGKey(0))
    return abstract, sharding.tree_shardings(abstract, mesh, config.sharding)


def sharded_train_step(models: Models, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh, state_shardings):
    """The train step jitted with explicit shardings: batch over the mesh, state by rule, metrics replicated;
    the input state is donated."""
    return jax.jit(make_train_step(models, config),
                   in_shardings=(state_shardings, sharding.batch_sharding(mesh)),
                   out_shardings=(state_shardings, sharding.replicated(mesh)), donate_argnums=0)


def compiled_train_step(models: Models, config: ml_collections.ConfigDict, mesh: jax.sharding.Mesh,
                        abstract_state: TrainState, state_shardings):
    """`sharded_train_step` compiled before the first step, once every process has compiled it: on CPU
    (gloo) a collective fails when one process reaches it 30 s after another, and processes compile at
    their own pace."""
    state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract_state,
                         state_shardings)
    batch = jax.ShapeDtypeStruct((config.batch_size, config.data.segment_samples), np.float32,
                                 sharding=sharding.batch_sharding(mesh))
    with jax.default_matmul_precision(config.matmul_precision):
        compiled = sharded_train_step(models, config, mesh, state_shardings).lower(state, batch).compile()
    distributed.barrier("train_step_compiled")
    return compiled


def initial_state(models: Models, config: ml_collections.ConfigDict, params: dict | None, shardings) -> TrainState:
    """A fresh state from `config.seed` (generator and, when given, discriminator weights from `params`)."""
    def init(rng, params):  # the weights are an argument: closed over, they would be compiled in as constants
        gen, disc = init_params(models, config, rng)
        if params is not None:
            gen = params["generator"]
            disc = params.get("discriminators", disc)
        return create_state(models, gen, disc)

    return jax.jit(init, out_shardings=shardings)(init_key(config), params)


def init_key(config: ml_collections.ConfigDict) -> jax.Array:
    """The parameter initialisation key of a fresh run with `config.seed`."""
    return jax.random.split(jax.random.PRNGKey(config.seed))[0]


def _example_batch(config: ml_collections.ConfigDict) -> np.ndarray:
    """A fixed held-out batch (a few utterances, cut and padded to a multiple of the hop) for examples."""
    wav = data.eval_utterances(config.data)[0].wav[:EXAMPLE_COUNT, :int(EXAMPLE_SECONDS * SAMPLE_RATE)]
    return pad_to_multiple(wav.astype(np.float32), hop_length(config.model))


def _log_examples(writer: MetricWriter, step: int, reconstruct, gen_params, wav: np.ndarray) -> None:
    recon = np.asarray(reconstruct(gen_params, wav))
    for i in range(wav.shape[0]):
        writer.audio(step, f"examples/{i}/input", wav[i])
        writer.audio(step, f"examples/{i}/reconstruction", recon[i])
        writer.image(step, f"examples/{i}/mel", mel_comparison_image(wav[i], recon[i]))


def _due(step: int, every: int) -> bool:
    """Whether a periodic action set to run every `every` steps (0: never) runs at `step`."""
    return every > 0 and step % every == 0


def train(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
    """Train until `config.num_steps`; returns the final state. On SIGTERM/SIGINT (to any process) every
    process checkpoints the same step and `Preempted` is raised."""
    validate(config)
    params = _use_init_from(config) if config.init_from else None
    run_dir.record_config(config, workdir, write=jax.process_index() == 0)  # refuses a resume with another config
    main = jax.process_index() == 0

    mesh = sharding.make_mesh(config)
    models = build_models(config)
    abstract_state, state_shardings = state_layout(models, config, mesh)

    iterator = iter(data.train_loader(config.data, config.batch_size, config.seed))
    checkpointer = Checkpointer(workdir, config)
    if checkpointer.latest_step() is not None:
        target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                              abstract_state, state_shardings)
        state = checkpointer.restore(target, iterator)
        log.info("resumed from step %d in %s", int(state.step), workdir)
    else:
        state = initial_state(models, config, params, state_shardings)

    step = int(state.step)  # counted on the host from here on: reading it from the devices would wait for them
    step_fn = compiled_train_step(models, config, mesh, abstract_state, state_shardings)
    writer = MetricWriter(workdir, start_step=step)
    # the held-out data is read only when it is used: with both set to 0 a run needs none
    evaluate_heldout = HeldOutEvaluation(config) if config.eval_every_steps else None
    examples = _example_batch(config) if main and config.examples_every_steps else None
    reconstruct = jax.jit(lambda p, w: models.generator.apply({"params": p}, w).recon)
    stop = StopSignal()
    audio_per_step = config.batch_size * config.data.segment_samples / SAMPLE_RATE
    bar = tqdm.tqdm(total=config.num_steps, initial=step, desc="train", unit="step", disable=not main,
                    dynamic_ncols=True)
    preempted = False
    try:
        with jax.default_matmul_precision(config.matmul_precision):
            last_time, last_step = time.perf_counter(), step
            while step < config.num_steps:
                batch = sharding.global_batch(next(iterator)["wav"], mesh)
                state, metrics = step_fn(state, batch)
                step += 1
                bar.update(1)
                values = {}
                if step % config.log_every_steps == 0 or step == config.num_steps:
                    now = time.perf_counter()
                    steps_per_s = (step - last_step) / (now - last_time)
                    last_time, last_step = now, step
                    _check_finite_run(state, config, checkpointer)
                    values = {k: float(v) for k, v in jax.device_get(metrics).items()}
                    values.update({"perf/steps_per_s": steps_per_s, "perf/audio_s_per_s": steps_per_s * audio_per_step,
                                   "data/bad_examples": data.bad_example_count(iterator),
                                   "nonfinite/total": int(state.nonfinite_total)})
                    bar.set_postfix(gen=f"{values['loss/gen']:.3f}", disc=f"{values['loss/disc']:.3f}",
                                    mel=f"{values['loss/mel']:.3f}", lr=f"{values['lr']:.2e}",
                                    audio_s_per_s=f"{values['perf/audio_s_per_s']:.1f}")
                if _due(step, config.examples_every_steps):
                    gen_params = host_params(state.gen_params)  # every process takes part in gathering them
                    if main:
                        _log_examples(writer, step, reconstruct, gen_params, examples)
                if _due(step, config.eval_every_steps):
                    values.update(evaluate_heldout(state.gen_params))
                if values:
                    writer.scalars(step, values)
                if stop.should_stop(step):
                    preempted = True
                    break
                checkpointer.save(step, state, iterator)
        _check_finite_run(state, config, checkpointer)
        checkpointer.save(step, state, iterator, force=checkpointer.latest_step() != step)
        checkpointer.wait()
    finally:
        bar.close()
        stop.restore()
        checkpointer.close()
        writer.close()
    if preempted:
        log.warning("%s: checkpointed step %d", stop.reason, step)
        raise Preempted(step, stop.reason)
    return state


def _check_finite_run(state: TrainState, config: ml_collections.ConfigDict, checkpointer: Checkpointer) -> None:
    in_a_row = int(state.nonfinite_in_a_row)
    if in_a_row >= config.max_consecutive_nonfinite:
        raise TrainingDiverged(
            f"{in_a_row} steps in a row skipped an update because the loss or gradients were not finite "
            f"(config.max_consecutive_nonfinite={config.max_consecutive_nonfinite}); the last good checkpoint "
            f"is step {checkpointer.latest_step()}. Lower the learning rate, use float32, or check the data.")
