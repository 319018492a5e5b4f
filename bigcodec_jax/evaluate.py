"""`python -m bigcodec_jax.evaluate`: reconstruct every utterance of a data set with a codec and measure it.

Writes to --output:
  report.html      open it in a browser: the metrics with their definitions, and per example the input and
                   its reconstruction as players beside their log-mel spectrograms (links relative, no network)
  metrics.json     means, how many utterances have each metric, why the others miss it, the inputs that
                   could not be read (`unreadable`, and by name with the reason in `unreadable_inputs`),
                   code statistics (codebook usage, perplexity, bitrate), the model and metric definitions
  utterances.csv   one row per utterance: name, seconds, frames, one column per metric (empty when
                   missing), `missing` ("metric: reason; ...") and `example` (the stem of its files in examples/)
  examples/        for the first --examples utterances (shortest first): <stem>.input.wav,
                   <stem>.reconstruction.wav and <stem>.mel.png (log-mel, input beside reconstruction); the
                   stem is the name flattened (a/b.wav -> a_b), with -2, -3, ... where two flatten alike
An --output that is not empty is refused unless --overwrite, which replaces an earlier evaluation there
whole (examples/ included); a folder holding anything else is never written into.

Metrics (higher is better unless marked):
  pesq_wb, pesq_nb  wide- / narrow-band PESQ MOS-LQO (`pesq`, the [eval] extra); missing below 0.25 s, for
                    silence, or without pesq installed (pip install 'bigcodec-jax[eval]')
  stoi              short-time objective intelligibility (`pystoi`); missing with under 0.41 s of speech
  si_sdr            scale-invariant SDR in dB of the zero-mean signals (sample-aligned)
  mel_distance      the training loss's multi-resolution mel distance (lower is better)
  mcd               mel-cepstral distortion in dB over c1..c24 of an 80-band log-mel, frame by frame,
                    no DTW: the reconstruction is time-aligned (lower is better)
Every metric compares at the input's 16 kHz: a codec that decodes at another rate (NeuCodec, 24 kHz) has
its output resampled to 16 kHz (band-limited) before it is measured or drawn, and its examples'
reconstruction.wav is the decoder's own output at its rate; where the codes stop short of the input's end
(NeuCodec codes samples // 320 frames) the lost tail is measured as silence.
A metric that cannot be computed for an utterance is reported as missing with the reason. An input
that cannot be read is named on stderr, counted and named in report.html and metrics.json, and left out
of every number.
Started as several processes (a pod, see bigcodec_jax/distributed.py), process 0 evaluates and
writes; the others wait for it.
Exit status: 0 done, 1 the checkpoint cannot be used or some inputs could not be read (the report of the
others is written), 2 a bad command line (unknown metrics, a checkpoint or data that does not exist, data
that holds no utterances, an --output that cannot be written or is not empty without --overwrite); nothing
is created for a bad command line.
"""
from __future__ import annotations

import argparse
import json
import sys

import ml_collections

from bigcodec_jax.codec import config as config_lib
from bigcodec_jax import data, distributed, errors, family_api
from bigcodec_jax.api import BigCodec
from bigcodec_jax.checkpoints import pretrained
from bigcodec_jax.codec.model import DTYPES
from bigcodec_jax.evaluation.metrics import ALL_METRICS, FAST_METRICS, METRICS, check_names
from bigcodec_jax.data.heldout import no_readable_utterance
from bigcodec_jax.evaluation.report import METRICS_FILE, check_output, write_report
from bigcodec_jax.evaluation.runner import evaluate
from bigcodec_jax.family_api import Codec
from bigcodec_jax.io import outputs, paths

RANDOM_PREFIX = "random:"
METRIC_SETS = {"all": ALL_METRICS, "fast": FAST_METRICS}


def _parser() -> argparse.ArgumentParser:
    parser = errors.ArgumentParser(prog="python -m bigcodec_jax.evaluate", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True,
                        help="what BigCodec.from_pretrained accepts (official .pt, Lightning .ckpt, .safetensors, "
                             "converted directory, train.py run directory, hub id owner/name[@revision]), an "
                             "X-Codec2 or NeuCodec release file or converted directory, or "
                             "random:<variant> for a randomly initialised BigCodec, e.g. random:tiny_train")
    parser.add_argument("--semantic", default=None, help=pretrained.SEMANTIC_HELP)
    parser.add_argument("--data", required=True,
                        help="a folder (audio files searched recursively), a file list (.txt/.lst/.list/.scp, "
                             "'path|...' lines relative to the list's folder, '#' comments), local or gs://..., tfds:<name>:<split> (e.g. tfds:librispeech:test_clean) or "
                             "'corpus' (the packaged corpus's held-out part)")
    parser.add_argument("--output", required=True,
                        help="folder for report.html, metrics.json, utterances.csv and examples/ (local or "
                             "gs://...; a remote report is written locally and uploaded at the end); it must be "
                             "empty or new unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier evaluation in --output (all of it, examples/ included)")
    parser.add_argument("--metrics", default="all",
                        help=f"'all', 'fast' ({', '.join(FAST_METRICS)}) or a comma-separated list of "
                             f"{', '.join(METRICS)} (default all)")
    parser.add_argument("--examples", type=errors.non_negative_int, default=4,
                        help="utterances to show on report.html: input/reconstruction wav pairs with a log-mel "
                             "picture (default 4)")
    parser.add_argument("--max-utterances", type=errors.non_negative_int, default=0,
                        help="evaluate only the first N utterances in source order (default 0: all)")
    parser.add_argument("--batch-size", type=errors.positive_int, default=8,
                        help="utterances per codec batch (default 8)")
    parser.add_argument("--dtype", choices=tuple(DTYPES), default="float32",
                        help="compute dtype of the codec (default float32, which reproduces the official model)")
    parser.add_argument("--tfds-data-dir", default=None,
                        help="where prepared tfds data lives (default: $TFDS_DATA_DIR or ~/tensorflow_datasets)")
    return parser


def data_config(spec: str, max_utterances: int, batch_size: int,
                tfds_data_dir: str | None) -> ml_collections.ConfigDict:
    """The data config whose evaluation split is `spec` (folder, file list, tfds:<name>:<split> or corpus)."""
    cfg = data.default_config()
    ev = cfg.eval
    if spec == "corpus":
        ev.source = "corpus"
    elif spec.startswith("tfds:"):
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts[1:]):
            raise ValueError(f"--data {spec!r}: write tfds data as tfds:<name>:<split>")
        ev.source, ev.split = f"tfds:{parts[1]}", parts[2]
    else:
        ev.source, ev.path = ("dir" if paths.isdir(spec) else "list"), spec
    ev.max_utterances = max_utterances or sys.maxsize
    ev.batch_size = batch_size
    cfg.tfds_data_dir = tfds_data_dir
    return cfg


def metric_names(spec: str) -> tuple[str, ...]:
    """The metrics `--metrics` names; ValueError for unknown ones."""
    return METRIC_SETS.get(spec) or check_names([n.strip() for n in spec.split(",") if n.strip()])


def load_codec(checkpoint: str, dtype: str, semantic: str | None = None) -> Codec:
    """The codec --checkpoint names, of any family (`family_api.load_codec`), or a random BigCodec."""
    if checkpoint.startswith(RANDOM_PREFIX):
        return BigCodec.random(checkpoint[len(RANDOM_PREFIX):], dtype=dtype)
    return family_api.load_codec(checkpoint, semantic=semantic, dtype=dtype)


@errors.command()
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    distributed.initialize()
    if not distributed.is_main_process():  # one report: process 0 evaluates on its own devices, the others wait
        distributed.barrier("bigcodec_evaluate_done")
        return errors.OK
    try:
        return _evaluate(args)
    finally:
        distributed.barrier("bigcodec_evaluate_done")


def _evaluate(args: argparse.Namespace) -> int:
    try:
        metrics = metric_names(args.metrics)
    except ValueError as e:
        raise errors.UsageError(f"argument --metrics: {e}") from None
    errors.require(not args.checkpoint.startswith(RANDOM_PREFIX)
                   or args.checkpoint[len(RANDOM_PREFIX):] in config_lib.VARIANTS,
                   f"argument --checkpoint: unknown model variant in {args.checkpoint!r}; known: "
                   + ", ".join(RANDOM_PREFIX + v for v in config_lib.VARIANTS))
    if not args.checkpoint.startswith(RANDOM_PREFIX):
        pretrained.check_sources(args.checkpoint, args.semantic)
    errors.require(args.data == "corpus" or args.data.startswith("tfds:") or paths.exists(args.data),
                   f"argument --data: {args.data}: no such folder or file list")
    try:
        check_output(args.output, args.overwrite)
    except OSError as e:
        raise errors.UsageError(f"argument --output: {e}") from None
    outputs.prepare_output_dir(args.output)
    try:
        cfg = data_config(args.data, args.max_utterances, args.batch_size, args.tfds_data_dir)
        eval_set = data.read_eval_set(cfg)
    except ValueError as e:
        raise errors.UsageError(f"argument --data: {e}") from None
    if not eval_set.batches:
        raise errors.InputError(no_readable_utterance(cfg, eval_set))
    codec = load_codec(args.checkpoint, args.dtype, args.semantic)
    report = evaluate(codec, eval_set.batches, metrics, args.examples, progress=True)
    report.model["checkpoint"] = args.checkpoint
    report.unreadable = eval_set.unreadable
    write_report(report, args.output, args.overwrite)
    summary = report.summary()
    print(json.dumps({k: summary[k] for k in ("utterances", "unreadable", "means", "missing", "codes")}, indent=1))
    print(f"wrote {paths.join(args.output, METRICS_FILE)}")
    print(f"evaluate: {len(report.utterances)} utterances measured, {len(eval_set.unreadable)} unreadable"
          + (f" ({', '.join(eval_set.unreadable)})" if eval_set.unreadable else ""))
    return errors.FAILED if eval_set.unreadable else errors.OK


if __name__ == "__main__":
    sys.exit(main())
