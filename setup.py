"""bigcodec-jax: the BigCodec neural speech codec in JAX/Flax."""
from setuptools import find_packages, setup

setup(
    name="bigcodec-jax",
    version="0.1.0",
    description="BigCodec (1.04 kbps neural speech codec) in JAX/Flax, exact to the official PyTorch model",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",  # as jax, flax, orbax, grain and numpy at the floors below
    packages=find_packages(include=["bigcodec_jax", "bigcodec_jax.*"]),
    package_data={"bigcodec_jax.data": ["corpus/*.txt", "corpus/*/*.flac"]},  # the offline speech corpus
    # Floors are the versions CI installs and the tests pass with. Every core dependency ships wheels (or is
    # pure Python): the core install needs no C compiler. pesq, which builds from source, is the [eval] extra.
    install_requires=[
        "jax>=0.10.2",
        "flax>=0.12.8",
        "optax>=0.2.8",
        "orbax-checkpoint>=0.12.8",
        "numpy>=2.4.6",
        "librosa>=0.11.0",
        "soundfile>=0.14.0",
        "ml_collections>=1.1.0",
        "tqdm>=4.70.1",
        "grain>=0.2.18",  # the training data loader (bigcodec_jax.data)
        "array-record>=0.8.6",  # codes shards (inference.py encode --format arrayrecord, data.CodesSource)
        "msgpack>=1.2.4",  # the records of codes shards
        "pystoi>=0.4.1",  # evaluation: STOI
        "matplotlib>=3.11.2",  # evaluation and TensorBoard: log-mel figures (Agg, no display needed)
        "pillow>=13.0.0",  # TensorBoard images (tensorboardX encodes PNGs with PIL)
        "safetensors>=0.8.0",  # .safetensors checkpoints (numpy API; a small wheel with no dependencies)
        "absl-py>=2.5.1",  # train.py flags (ml_collections config overrides)
        "tensorboardX>=2.6.5",  # training logs without TensorFlow
    ],
    extras_require={
        "eval": ["pesq>=0.0.4"],  # evaluation: PESQ (no wheels: builds with a C compiler); missing -> reported
        "hub": ["huggingface_hub>=2.4.0"],  # BigCodec.from_pretrained("owner/name"): model-hub ids
        "test": ["pytest>=9.2.0", "pytest-xdist>=3.8.0", "pesq>=0.0.4", "huggingface_hub>=2.4.0",
                 "tensorflow-datasets>=4.9.10"],  # the tfds source is tested with tfds mock data
        "tfds": ["tensorflow-datasets>=4.9.10"],  # 'tfds:<name>' data sources; TensorFlow itself is not needed
        "gpu": ["jax[cuda12]"],
        "tpu": ["jax[tpu]"],
    },
    entry_points={"console_scripts": ["bigcodec = bigcodec_jax.commands:main"]},  # = python -m bigcodec_jax
)
