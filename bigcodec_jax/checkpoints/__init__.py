"""Reading, writing and converting checkpoints: PyTorch zip files and Orbax directories."""
