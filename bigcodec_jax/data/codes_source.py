"""`CodesSource`: a tokenised corpus (`inference.py encode --format arrayrecord`) as a Grain random-access
source, for training a speech LM on BigCodec codes.

    from bigcodec_jax.data import CodesSource
    source = CodesSource("codes/", fingerprint=codes_file.fingerprint(codec.params))  # or fingerprint=None
    source[0]  # {"id": "spk1/utt3.flac", "codes": int32 (n_q, frames), "length": 52800, "sample_rate": 16000}
    dataset = grain.MapDataset.source(source).shuffle(seed=0).map(...)   # global shuffling, checkpointable

Records are numbered across the shards in order (shortest audio first); the source is picklable, so
Grain worker processes can read it.
"""
from __future__ import annotations

import os
from typing import Any, SupportsIndex

import grain

from bigcodec_jax import codes_shards


class CodesSource(grain.sources.RandomAccessDataSource):
    """The records of a codes shard directory; `index` holds its index.json (model config, fingerprint,
    counts, failed inputs)."""

    def __init__(self, path: str, fingerprint: str | None = None):
        """`fingerprint` (of the codec that will use the codes, `codes_file.fingerprint(params)`): refuse
        codes made by other weights with a ValueError saying whose they are."""
        self.path = path
        self.index = codes_shards.read_index(path, fingerprint)
        shards = [os.path.join(path, shard["file"]) for shard in self.index["shards"]]
        missing = [p for p in shards if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"{path}: {len(missing)} shard files named in {codes_shards.INDEX_FILE} are missing "
                             f"(first: {os.path.basename(missing[0])})")
        self._records = grain.sources.ArrayRecordDataSource(shards) if shards else []

    @property
    def fingerprint(self) -> str:
        return self.index["fingerprint"]

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, record_key: SupportsIndex) -> dict[str, Any]:
        return codes_shards.decode_record(self._records[record_key])

    def __repr__(self) -> str:
        return f"CodesSource({self.path!r}: {len(self)} records, {self.index['seconds']:.0f} s of audio)"
