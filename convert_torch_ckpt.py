"""Convert an official BigCodec PyTorch checkpoint to Flax (or back, with --to-torch), or to safetensors.

    python convert_torch_ckpt.py bigcodec.pt converted/             # .pt / Lightning .ckpt -> Orbax dir
    python convert_torch_ckpt.py --to-torch converted/ bigcodec.pt  # Orbax dir -> official .pt
    python convert_torch_ckpt.py --to-torch runs/mine mine.pt       # a train.py run (latest step) -> .pt
    python convert_torch_ckpt.py --to-safetensors bigcodec.pt bigcodec.safetensors  # official tensor names

No PyTorch is needed: checkpoints are read with a restricted unpickler that refuses code.
The model config is inferred from the tensor shapes (files this package exports carry it).
"""
import sys

from bigcodec_jax.convert import main

if __name__ == "__main__":
    sys.exit(main())
