"""`python -m bigcodec_jax.demo`: train a small BigCodec on CPU and measure what it learned.

No download and no GPU. The demo evaluates an untrained codec on the packaged corpus's held-out utterances,
trains it on the corpus's training part (the `cpu_small` preset: the tiny model, batch 4 x 0.5 s) for a few
minutes, evaluates it again and writes OUTPUT/report.md: every metric before and after training, and per
utterance the log-mel pictures and wavs (input, untrained and trained reconstruction). OUTPUT/untrained/
and OUTPUT/trained/ hold each evaluation's metrics.json, utterances.csv and examples/. The training run
(checkpoints, TensorBoard logs) is in --workdir; rerunning the demo continues it.

To hear the released codec on the same utterances instead:
  python -m bigcodec_jax.evaluate --checkpoint bigcodec.pt --data corpus --output eval/
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import ml_collections

from bigcodec_jax import data, evaluation, exit_codes
from bigcodec_jax.api import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.evaluation.metrics import LOWER_IS_BETTER, definition, improved
from bigcodec_jax.evaluation.report import EXAMPLES_DIR, METRICS_FILE, Report, example_stem
from bigcodec_jax.training import presets, trainer
from bigcodec_jax.training.preemption import Preempted
from bigcodec_jax.training.state import Params, build_models, init_params

REPORT_FILE = "report.md"
STAGES = ("untrained", "trained")  # the evaluations, each written to OUTPUT/<stage>/


def untrained_params(config: ml_collections.ConfigDict) -> Params:
    """The generator parameters a fresh `trainer.train(config, ...)` starts from (its initialisation and seed)."""
    init_rng = trainer.init_key(config)
    return jax.jit(lambda rng: init_params(build_models(config), config, rng)[0])(init_rng)


def measure(config: ml_collections.ConfigDict, params: Params, batches: list[data.EvalBatch]) -> Report:
    """Every metric of the codec with generator `params` on `batches`, every utterance kept as an example."""
    codec = BigCodec(config.model, jax.device_get(params))
    return evaluation.evaluate(codec, batches, evaluation.ALL_METRICS, examples=sum(len(b.names) for b in batches),
                               progress=True)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def metrics_table(before: Report, after: Report) -> list[str]:
    """Markdown rows: each metric's mean before and after training, and whether training improved it."""
    rows = ["| metric | untrained | trained | better after training |", "|---|---:|---:|:---:|"]
    old, new = before.means(), after.means()
    for metric in before.metrics:
        direction = "lower" if metric in LOWER_IS_BETTER else "higher"
        better = "n/a" if None in (old[metric], new[metric]) else "yes" if improved(
            metric, old[metric], new[metric]) else "no"
        rows.append(f"| {metric} ({direction} is better) | {_number(old[metric])} | {_number(new[metric])} | {better} |")
    for name in ("usage", "perplexity"):
        rows.append(f"| codebook {name} | {getattr(before.codes, name):.3f} | {getattr(after.codes, name):.3f} | |")
    return rows


def examples_table(before: Report, after: Report) -> list[str]:
    """Markdown rows linking each utterance's input and reconstructions with their log-mel pictures."""
    rows = ["| utterance | untrained | trained |", "|---|---|---|"]
    for example in after.examples:
        stem = example_stem(example.name)
        cells = [f"![{stage}]({stage}/{EXAMPLES_DIR}/{stem}.mel.png)<br>"
                 f"[reconstruction]({stage}/{EXAMPLES_DIR}/{stem}.reconstruction.wav)" for stage in STAGES]
        rows.append(f"| {example.name}<br>[input]({STAGES[1]}/{EXAMPLES_DIR}/{stem}.input.wav) | {' | '.join(cells)} |")
    return rows


def render_report(config: ml_collections.ConfigDict, before: Report, after: Report, steps: int,
                  train_seconds: float, workdir: str) -> str:
    """report.md: what was trained, the metrics before and after, and the examples."""
    model, seconds = after.model, sum(u.samples for u in after.utterances) / SAMPLE_RATE
    crop = config.data.segment_samples / SAMPLE_RATE
    lines = [
        f"# BigCodec demo: {steps} training steps on {jax.devices()[0].platform.upper()}", "",
        f"The tiny BigCodec ({model['parameters']:,} generator parameters, {model['num_quantizers']} codebooks of "
        f"{model['codebook_size']} codes, {model['bitrate']:.0f} bit/s) trained from scratch for {steps} steps "
        f"({train_seconds / 60:.1f} min, compilation included) on {crop:g} s crops of the packaged speech corpus, "
        f"batch {config.batch_size}, learning rate {config.schedule.peak_lr:g} decaying to "
        f"{config.schedule.final_lr:g}. Both codecs are measured on the {len(after.utterances)} held-out "
        f"utterances ({seconds:.1f} s) that training never sees; the numbers are means over them.", "",
        *metrics_table(before, after), "",
        "A few minutes of training cannot make a good codec, but it should move every number the right way: the "
        "reconstruction's spectrum (mel distance, MCD) gets closer to the input first, the waveform itself "
        "(SI-SDR) follows. Definitions:", "",
        *(f"- `{m}`: {definition(m)}" for m in after.metrics), "",
        "## Listen and look", "",
        "Each picture is the log-mel spectrogram of the input (top) above the reconstruction (bottom).", "",
        *examples_table(before, after), "",
        "## Files", "",
        *(f"- `{stage}/`: `{METRICS_FILE}` (means, counts, definitions), `utterances.csv` (one row per "
          f"utterance), `{EXAMPLES_DIR}/` (wavs and pictures)" for stage in STAGES),
        f"- training run: `{os.path.abspath(workdir)}` (checkpoints; `tensorboard --logdir "
        f"{os.path.join(os.path.abspath(workdir), 'tensorboard')}` shows the losses and `eval/` metrics)", "",
    ]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bigcodec_jax.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=presets.cpu_small().num_steps,
                        help="training steps (default %(default)s: a few minutes on 2 CPU cores)")
    parser.add_argument("--output", default=os.path.join("outputs", "demo"),
                        help="folder for report.md, untrained/ and trained/ (default %(default)s)")
    parser.add_argument("--workdir", help="the training run's folder; an existing run there is continued "
                                          "(default OUTPUT/workdir)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.steps < 1:
        raise SystemExit(f"--steps must be positive, got {args.steps}")
    config = presets.cpu_small()
    config.num_steps = config.schedule.decay_steps = args.steps  # the learning rate decays over the whole run
    workdir = args.workdir or os.path.join(args.output, "workdir")
    batches = data.eval_utterances(config.data)

    print(f"[1/3] evaluating the untrained codec on {sum(len(b.names) for b in batches)} held-out utterances")
    before = measure(config, untrained_params(config), batches)
    print(f"[2/3] training {args.steps} steps in {workdir} (compiling the train step first takes about a minute on 2 CPU cores)")
    start = time.perf_counter()
    try:
        state = trainer.train(config, workdir)
    except Preempted as e:
        print(f"demo: {e}", file=sys.stderr)
        return exit_codes.PREEMPTED
    train_seconds = time.perf_counter() - start
    print("[3/3] evaluating the trained codec")
    after = measure(config, state.gen_params, batches)

    for stage, report in zip(STAGES, (before, after)):
        evaluation.write_report(report, os.path.join(args.output, stage))
    report_path = os.path.join(args.output, REPORT_FILE)
    with open(report_path, "w") as f:
        f.write(render_report(config, before, after, int(state.step), train_seconds, workdir))
    print("\n".join(metrics_table(before, after)))
    print(f"report: {os.path.abspath(report_path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
