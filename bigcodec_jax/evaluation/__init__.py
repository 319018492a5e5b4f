"""Codec evaluation: reconstruct held-out utterances and measure them.

    from bigcodec_jax import data, evaluation
    report = evaluation.evaluate(codec, data.eval_utterances(cfg))         # FAST_METRICS: mel, SI-SDR, STOI
    report = evaluation.evaluate(codec, batches, evaluation.ALL_METRICS, examples=4, progress=True)
    report.scalars()                     # {metric: mean, "codebook_usage": ..., "code_perplexity": ...}
    evaluation.write_report(report, "eval/")   # report.html, metrics.json, utterances.csv, examples/*.wav, *.mel.png
    evaluation.write_report(report, "eval/", overwrite=True)   # replace an earlier evaluation there, whole
    image = evaluation.mel_comparison_image(wav, recon)   # uint8 (H, W, 3), input beside reconstruction

`python -m bigcodec_jax.evaluate --help` runs it on a folder, a file list, a tfds split or the corpus.
"""
from bigcodec_jax.evaluation.code_statistics import CodeStatistics, bitrate
from bigcodec_jax.evaluation.metrics import ALL_METRICS, FAST_METRICS, METRICS, MetricUnavailable, measure
from bigcodec_jax.evaluation.plots import mel_comparison_image, mel_figure, save_mel_figure
from bigcodec_jax.evaluation.report import Example, Report, UtteranceResult, write_report
from bigcodec_jax.evaluation.runner import evaluate

__all__ = ["ALL_METRICS", "CodeStatistics", "Example", "FAST_METRICS", "METRICS", "MetricUnavailable", "Report",
           "UtteranceResult", "bitrate", "evaluate", "measure", "mel_comparison_image", "mel_figure", "save_mel_figure",
           "write_report"]
