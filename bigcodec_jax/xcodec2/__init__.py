"""X-Codec2 and NeuCodec, BigCodec's descendants: a semantic and an acoustic encoder, FSQ codes, a Vocos decoder."""
