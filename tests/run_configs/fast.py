"""A test config that compiles fast: configs/small.py (the demo's CPU run) with the tiny model cut to two
blocks with one residual unit each, one discriminator of each family and two mel resolutions, and runs of
6 steps. Tests of the loop, resume and sharding use it; the architecture itself is tested against golden
data elsewhere."""
import ml_collections

from bigcodec_jax.configs import small


def get_config() -> ml_collections.ConfigDict:
    config = small.get_config()
    model = config.model
    model.encoder.up_ratios, model.decoder.up_ratios = [8, 25], [25, 8]
    model.encoder.dilations = model.decoder.dilations = [1]
    model.mpd.periods = [3]
    for key in ("fft_sizes", "hop_sizes", "win_lengths"):
        model.mstft.stft_params[key] = model.mstft.stft_params[key][1:2]
    config.loss.mel.window_lengths, config.loss.mel.n_mels = [64, 512], [10, 80]
    config.batch_size = 2
    config.data.segment_samples = 4000
    config.data.eval.max_utterances = 2
    config.num_steps = 6
    config.log_every_steps = 1
    config.examples_every_steps = 4
    config.checkpoint.every_steps = 3
    config.checkpoint.keep = 3  # every checkpoint of a run (steps 1, 3 and 6): resume tests pick among them
    return config
