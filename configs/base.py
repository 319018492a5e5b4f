"""The paper recipe: the released full-size BigCodec on LibriSpeech 960 h (official-model.md).

Every field of a training run is written out here; the other configs start from this one and set what
they change. Batch 8 x 1 s crops, 1.2 M steps, AdamW (0.8, 0.9), warm-up to 1e-4 over 1000 updates then
linear decay to 1e-5. Prepare LibriSpeech with tfds first (or point data.source at a folder/file list).
Any field can be overridden on the command line (`--config.batch_size=16`); train.py checks the whole
config first (`bigcodec_jax.training.config.validate`).
"""
import ml_collections

from bigcodec_jax.codec.config import model_config
from bigcodec_jax.nn.spectral import mel_distance_config


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.model = model_config("full")  # the released bigcodec.pt (codec/config.py lists the variants)
    config.seed = 1024
    config.batch_size = 8                 # global batch, split over hosts and the mesh's batch axes
    config.num_steps = 1_200_000
    config.compute_dtype = "float32"      # or bfloat16: float32 master weights, losses and mel features
    config.matmul_precision = "highest"   # float32 matmuls/convs at full precision (no TF32 passes on GPU)
    config.init_from = ""                 # an official .pt / Lightning .ckpt or a converted directory

    # The data pipeline's options (bigcodec_jax.data.default_config documents each field).
    config.data = ml_collections.ConfigDict(dict(
        source="tfds:librispeech",
        path="",
        split="train_clean100+train_clean360+train_other500",
        tfds_data_dir=ml_collections.config_dict.placeholder(str),  # None: $TFDS_DATA_DIR or ~/tensorflow_datasets
        segment_samples=16000,            # 1 s crops (a multiple of the hop length)
        seed_offset=0,
        workers=0,
        read_threads=4,
        prefetch_batches=8,
        max_bad_fraction=0.05,
        eval=ml_collections.ConfigDict(dict(source="tfds:librispeech", path="", split="test_clean",
                                            max_utterances=64, batch_size=8)),
    ))

    config.loss = ml_collections.ConfigDict(dict(
        lambda_mel=15.0, lambda_adv=1.0, lambda_feat_match=1.0, lambda_disc=1.0,
        mel=mel_distance_config()))      # the official mel distance, the one evaluation reports
    config.optimizer = ml_collections.ConfigDict(dict(b1=0.8, b2=0.9, eps=1e-8, weight_decay=0.01, clip_norm=1.0))
    config.schedule = ml_collections.ConfigDict(dict(initial_lr=1e-5, peak_lr=1e-4, final_lr=1e-5,
                                                     warmup_steps=1000, decay_steps=500_000))

    # Mesh: `data` splits the batch, `fsdp` splits the batch too and shards parameters by rule.
    # -1 takes the remaining devices.
    config.mesh = ml_collections.ConfigDict(dict(data=-1, fsdp=1))
    # Which tensors split over the mesh's `fsdp` axis (training/sharding.py): the first rule (regex on the
    # tensor's path "a/b/c", axis) that matches; weight-norm directions and LSTM kernels split their output
    # axis, codebooks their entries. Smaller tensors, and those whose axis does not divide, stay replicated.
    config.sharding = ml_collections.ConfigDict(dict(
        min_shard_size=2 ** 16, rules=((r"(^|/)v$", -1), (r"kernel_(ih|hh)$", -1), (r"codebook$", 0))))

    config.checkpoint = ml_collections.ConfigDict(dict(every_steps=5000, keep=3, async_save=True))
    config.log_every_steps = 50
    config.examples_every_steps = 5000    # audio + mel images of the held-out batch in TensorBoard (0: never)
    config.eval_every_steps = 5000        # fast metrics of the held-out utterances (data.eval) as eval/... (0: never)
    config.max_consecutive_nonfinite = 20  # skipped updates in a row before the run stops
    return config
