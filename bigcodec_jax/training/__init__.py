"""GAN training of BigCodec: losses, optimisers, the train step, sharding, checkpoints and the loop."""
