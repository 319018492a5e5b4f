"""bigcodec-jax: the BigCodec neural speech codec in JAX/Flax."""
from setuptools import find_packages, setup

setup(
    name="bigcodec-jax",
    version="0.1.0",
    description="BigCodec (1.04 kbps neural speech codec) in JAX/Flax, exact to the official PyTorch model",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["bigcodec_jax", "bigcodec_jax.*"]),
    package_data={"bigcodec_jax.data": ["corpus/*.txt", "corpus/*/*.flac"]},  # the offline speech corpus
    install_requires=[
        "jax>=0.4.30",
        "flax>=0.10",
        "optax>=0.2",
        "orbax-checkpoint>=0.6",
        "numpy>=1.24",
        "librosa>=0.10",
        "soundfile>=0.12",
        "ml_collections>=0.1.1",
        "tqdm>=4.60",
        "grain>=0.2.18",  # the training data loader (bigcodec_jax.data)
        "array-record>=0.5",  # codes shards (inference.py encode --format arrayrecord, data.CodesSource)
        "msgpack>=1.0",  # the records of codes shards
        "pesq>=0.0.4",  # evaluation: PESQ (a C extension, builds with the system compiler)
        "pystoi>=0.4",  # evaluation: STOI
        "pillow>=9",  # evaluation: log-mel comparison pictures
        "absl-py>=1.0",  # train.py flags (ml_collections config overrides)
        "tensorboardX>=2.6",  # training logs without TensorFlow
    ],
    extras_require={
        "test": ["pytest>=7", "tensorflow-datasets>=4.9.4"],  # the tfds source is tested with tfds mock data
        "tfds": ["tensorflow-datasets>=4.9.4"],  # 'tfds:<name>' data sources; TensorFlow itself is not needed
        "gpu": ["jax[cuda12]"],
        "tpu": ["jax[tpu]"],
    },
)
