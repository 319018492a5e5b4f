"""Training and evaluation data for BigCodec: sources, the grain training stream, the evaluation split.

    from bigcodec_jax import data
    cfg = data.default_config()                     # every option, documented field by field
    loader = data.train_loader(cfg, global_batch_size=8, seed=1024)
    it = iter(loader)                               # {"wav": float32 (8 // process_count, 16000)}
    state = it.get_state(); it.set_state(state)     # exact resume (a small JSON-able dict)
    data.bad_example_count(it)                      # unreadable examples skipped so far
    for batch in data.eval_utterances(cfg): ...     # names, float32 16 kHz (B, max length), lengths
    data.read_eval_set(cfg).unreadable              # {name: reason} of the utterances that could not be read

With Orbax, store the iterator beside the model in one checkpoint (one JSON file per host):

    mngr.save(step, args=ocp.args.Composite(params=..., data=grain.checkpoint.CheckpointSave(it)))
    mngr.restore(step, args=ocp.args.Composite(params=..., data=grain.checkpoint.CheckpointRestore(it)))

The state holds only the batch count and the bad-example counters, so `set_state` resumes exactly
with other `workers`/`read_threads` settings, or even another host count, as long as the global
batch is the same (grain's Orbax handler keeps one file per host, so it needs the same host count;
train.py stores the job's global position instead, see training/checkpointing.py).

A tokenised corpus (`inference.py encode --format arrayrecord`) reads as `data.CodesSource(dir)`, a Grain
random-access source of {"id", "codes", "length", "sample_rate"} records (see data/codes_source.py).
"""
from bigcodec_jax.data.bad_examples import TooManyBadExamples, bad_example_count
from bigcodec_jax.data.codes_source import CodesSource
from bigcodec_jax.data.config import default_config
from bigcodec_jax.data.corpus import corpus_dir
from bigcodec_jax.data.heldout import EvalBatch, EvalSet, eval_utterances, read_eval_set
from bigcodec_jax.data.loader import train_loader

__all__ = ["CodesSource", "EvalBatch", "EvalSet", "TooManyBadExamples", "bad_example_count", "corpus_dir", "default_config",
           "eval_utterances", "read_eval_set", "train_loader"]
