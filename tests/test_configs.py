"""The config tree: configs/base.py holds every field of a run, the other configs start from it, the package
ships them as `bigcodec_jax.configs`, and one check names a bad value by its dotted key."""
import os
import subprocess
import sys

import pytest

from bigcodec_jax import data
from bigcodec_jax.configs import base, debug, finetune, small
from bigcodec_jax.errors import ConfigError
from bigcodec_jax.training.config import validate

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _keys(tree, prefix=""):
    return {key for name, value in tree.items()
            for key in (_keys(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name})}


@pytest.mark.parametrize("module", [debug, small, finetune])
def test_every_config_is_the_base_with_its_changes_and_validates(module):
    config = module.get_config()
    assert _keys(config.to_dict()) == _keys(base.get_config().to_dict())
    if config.data.source == "dir":  # finetune: the user names the folder
        config.data.path = "/data/my_speech"
    validate(config)


def test_base_writes_out_every_data_option():
    assert _keys(base.get_config().data.to_dict()) == _keys(data.default_config().to_dict())


@pytest.mark.parametrize("key, value, name", [
    ("model.decoder.codebook_size", 0, "config.model.decoder.codebook_size"),  # the codec's check
    ("model.decoder.up_ratios", [5, 5, 2, 2, 4], "config.model.decoder.up_ratios"),
    ("data.eval.batch_size", 0, "config.data.eval.batch_size"),  # the data pipeline's check
    ("mesh.fsdp", 0, "config.mesh.fsdp"),  # the training fields
])
def test_one_check_names_the_bad_key_from_the_config_root(key, value, name):
    config = small.get_config()
    *parents, leaf = key.split(".")
    section = config
    for parent in parents:
        section = section[parent]
    section[leaf] = value
    with pytest.raises(ConfigError) as info:
        validate(config)
    assert info.value.key == name and str(info.value).startswith(name + ": ")


def test_an_install_ships_the_configs_for_the_demo(tmp_path):
    """What a wheel holds (setup.py's build_py), imported without the checkout: the demo's config is there."""
    subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)], cwd=ROOT,
                   check=True, capture_output=True, timeout=120)
    configs = tmp_path / "bigcodec_jax" / "configs"
    assert configs.is_dir() and not configs.is_symlink()
    assert sorted(p.name for p in configs.glob("*.py")) == sorted(
        name for name in os.listdir(os.path.join(ROOT, "configs")) if name.endswith(".py"))
    imported = subprocess.run([sys.executable, "-c", "import bigcodec_jax.configs.small as s; print(s.__file__); "
                               "print(s.get_config().num_steps)"], cwd=tmp_path, env={**os.environ,
                              "PYTHONPATH": str(tmp_path)}, capture_output=True, text=True, check=True, timeout=300)
    assert imported.stdout.split() == [str(configs / "small.py"), "300"]
