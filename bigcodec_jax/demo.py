"""`python -m bigcodec_jax.demo`: train a small BigCodec on CPU and measure what it learned.

No download and no GPU. The demo evaluates an untrained codec on the packaged corpus's held-out utterances,
trains it on the corpus's training part (configs/small.py: the tiny model, batch 4 x 0.5 s) for a few
minutes, evaluates it again and writes OUTPUT/report.html, a page to open in a browser: every metric
before and after training, and per utterance the input, the untrained and the trained reconstruction side
by side, as players and log-mel pictures. OUTPUT/untrained/ and OUTPUT/trained/ hold each evaluation's own
report.html, metrics.json, utterances.csv and examples/. The training run
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

from bigcodec_jax import data, errors, evaluation
from bigcodec_jax.api import BigCodec
from bigcodec_jax.audio import SAMPLE_RATE
from bigcodec_jax.configs import small
from bigcodec_jax.evaluation import html_report, plots
from bigcodec_jax.evaluation.code_statistics import CODE_DEFINITIONS
from bigcodec_jax.evaluation.html_report import PAGE_FILE
from bigcodec_jax.evaluation.metrics import LOWER_IS_BETTER, definition, improved
from bigcodec_jax.evaluation.report import (METRICS_FILE, UTTERANCES_FILE, Report, check_output, example_files,
                                            example_stems)
from bigcodec_jax.io import outputs, paths, staged
from bigcodec_jax.training import trainer
from bigcodec_jax.training.preemption import Preempted
from bigcodec_jax.training.state import Params, build_models, init_params

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


def comparison_rows(before: Report, after: Report) -> list[list[str]]:
    """Per metric: which way is better, its mean before and after training and whether training improved it;
    then the code statistics."""
    old, new = before.means(), after.means()
    old.update(codebook_usage=before.codes.usage, code_perplexity=before.codes.perplexity)
    new.update(codebook_usage=after.codes.usage, code_perplexity=after.codes.perplexity)
    rows = []
    for metric in old:
        better = "n/a" if None in (old[metric], new[metric]) else "yes" if improved(
            metric, old[metric], new[metric]) else "no"
        rows.append([metric, "lower" if metric in LOWER_IS_BETTER else "higher", html_report.number(old[metric]),
                     html_report.number(new[metric]), better])
    return rows


COMPARISON_HEADER = ["metric", "better", "untrained", "trained", "improved by training"]


def text_table(header: list[str], rows: list[list[str]]) -> str:
    """Rows as aligned plain text, for the terminal."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows])


def listening(before: Report, after: Report, output: str) -> list[html_report.Listening]:
    """Per held-out utterance: a figure of the input, untrained and trained reconstruction side by side
    (drawn into the local folder `output`/examples/, OUTPUT or its staged copy) and their players, linking the
    wavs each evaluation wrote."""
    values = {stage: {u.name: u.values for u in r.utterances} for stage, r in zip(STAGES, (before, after))}
    examples = []
    for old, new, stem in zip(before.examples, after.examples, example_stems([e.name for e in after.examples])):
        files = example_files(stem)
        plots.save_mel_figure(os.path.join(output, files["figure"]), [
            ("input", new.reference), ("untrained", old.reconstruction), ("trained", new.reconstruction)], new.name)
        clips = [html_report.Clip("input", f"{STAGES[1]}/{files['input']}")] + [
            html_report.Clip(stage, f"{stage}/{files['reconstruction']}",
                             html_report.metric_caption(values[stage][new.name])) for stage in STAGES]
        examples.append(html_report.Listening(new.name, len(new.reference) / SAMPLE_RATE, files["figure"], clips))
    return examples


def render_report(config: ml_collections.ConfigDict, before: Report, after: Report, steps: int,
                  train_seconds: float, workdir: str, output: str) -> str:
    """report.html: what was trained, the metrics before and after, and the untrained and trained codec's
    reconstruction of every held-out utterance beside its input (figures drawn into OUTPUT/examples/)."""
    model, seconds = after.model, sum(u.samples for u in after.utterances) / SAMPLE_RATE
    crop = config.data.segment_samples / SAMPLE_RATE
    workdir = paths.absolute(workdir)
    summary = [
        f"The tiny BigCodec ({model['parameters']:,} generator parameters, {model['num_quantizers']} codebooks of "
        f"{model['codebook_size']} codes, {model['bitrate']:.0f} bit/s) trained from scratch for {steps} steps "
        f"({train_seconds / 60:.1f} min, compilation included) on {crop:g} s crops of the packaged speech corpus, "
        f"batch {config.batch_size}, learning rate {config.schedule.peak_lr:g} decaying to "
        f"{config.schedule.final_lr:g}. Both codecs are measured on the {len(after.utterances)} held-out "
        f"utterances ({seconds:.1f} s) that training never sees; the numbers are means over them.",
        "A few minutes of training cannot make a good codec, but it should move every number the right way: the "
        "reconstruction's spectrum (mel distance, MCD) gets closer to the input first, the waveform itself "
        "(SI-SDR) follows.",
        f"The training run (checkpoints, TensorBoard logs with the losses and eval/ metrics) is in {workdir}: "
        f"tensorboard --logdir {paths.join(workdir, 'tensorboard')}",
    ]
    files = [(f"{stage}/{PAGE_FILE}", f"the {stage} codec's evaluation: its page, {METRICS_FILE} and "
              f"{UTTERANCES_FILE} beside it") for stage in STAGES]
    definitions = {**{m: definition(m) for m in after.metrics}, **CODE_DEFINITIONS}
    return html_report.render(
        f"BigCodec demo: {steps} training steps on {jax.devices()[0].platform.upper()}", summary,
        html_report.Table(COMPARISON_HEADER, comparison_rows(before, after)), definitions,
        listening(before, after, output), files, plots.FIGURE_NOTE)


def _parser() -> argparse.ArgumentParser:
    parser = errors.ArgumentParser(prog="python -m bigcodec_jax.demo", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=errors.positive_int, default=small.get_config().num_steps,
                        help="training steps (default %(default)s: a few minutes on 2 CPU cores)")
    parser.add_argument("--output", default=os.path.join("outputs", "demo"),
                        help="folder for report.html, examples/, untrained/ and trained/, local or gs:// (uploaded "
                             "at the end, report.html last; default %(default)s)")
    parser.add_argument("--workdir", help="the training run's folder; an existing run there is continued "
                                          "(default OUTPUT/workdir)")
    return parser


@errors.command(interrupted="the training run keeps its last checkpoint; rerun the demo to continue it")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = small.get_config()
    config.num_steps = config.schedule.decay_steps = args.steps  # the learning rate decays over the whole run
    workdir = args.workdir or paths.join(args.output, "workdir")
    outputs.prepare_output_dir(args.output)
    outputs.prepare_output_dir(workdir, "--workdir")
    for stage in STAGES:  # a rerun replaces the evaluations it wrote before, and only those
        try:
            check_output(paths.join(args.output, stage), overwrite=True)
        except OSError as e:
            raise errors.UsageError(f"argument --output: {e}") from None
    batches = data.eval_utterances(config.data)

    print(f"[1/3] evaluating the untrained codec on {sum(len(b.names) for b in batches)} held-out utterances")
    before = measure(config, untrained_params(config), batches)
    print(f"[2/3] training {args.steps} steps in {workdir} (compiling the train step first takes about a minute on 2 CPU cores)")
    start = time.perf_counter()
    try:
        state = trainer.train(config, workdir)
    except Preempted as e:
        print(f"demo: {e}", file=sys.stderr)
        return errors.PREEMPTED
    train_seconds = time.perf_counter() - start
    print("[3/3] evaluating the trained codec")
    after = measure(config, state.gen_params, batches)

    with staged.staged_folder(args.output, last=(PAGE_FILE,)) as folder:  # a gs:// OUTPUT: uploaded at the end
        for stage, report in zip(STAGES, (before, after)):
            evaluation.write_report(report, os.path.join(folder, stage), overwrite=True)
        html_report.write(os.path.join(folder, PAGE_FILE), render_report(
            config, before, after, int(state.step), train_seconds, workdir, folder))
    print(text_table(COMPARISON_HEADER, comparison_rows(before, after)))
    print(f"report (open it in a browser): {paths.absolute(paths.join(args.output, PAGE_FILE))}")
    return errors.OK


if __name__ == "__main__":
    sys.exit(main())
