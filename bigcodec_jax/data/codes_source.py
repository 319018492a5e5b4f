"""`CodesSource`: a tokenised corpus (`inference.py encode --format arrayrecord`) as a Grain random-access
source, for training a speech LM on BigCodec codes.

    from bigcodec_jax.data import CodesSource
    source = CodesSource("codes/", fingerprint=codes_file.fingerprint(codec.params))  # or fingerprint=None
    source[0]  # {"id": "spk1/utt3.flac", "codes": int32 (n_q, frames), "length": 52800, "sample_rate": 16000}
    dataset = grain.MapDataset.source(source).shuffle(seed=0).map(...)   # global shuffling, checkpointable

Records are numbered across the shards in order (shortest audio first); the source is picklable, so
Grain worker processes can read it. The folder may be local or remote (gs://...): remote shards are
read from local copies in a cache folder, downloaded once (see `CodesSource.__init__`).
"""
from __future__ import annotations

from typing import Any, SupportsIndex

import grain

from bigcodec_jax import codes_shards, paths


class CodesSource(grain.sources.RandomAccessDataSource):
    """The records of a codes shard directory; `index` holds its index.json (model config, fingerprint,
    counts, failed inputs)."""

    def __init__(self, path: str, fingerprint: str | None = None, cache: str | None = None):
        """`fingerprint` (of the codec that will use the codes, `codes_file.fingerprint(params)`): refuse
        codes made by other weights with a ValueError saying whose they are. A remote `path` (gs://...) is read
        from local copies of its shards (random access to records, as Grain shuffles them, wants local
        files rather than a request per record), downloaded once into the cache
        folder `cache` (default `paths.cache_dir()`: `$BIGCODEC_CACHE_DIR` or `~/.cache/bigcodec-jax`) and
        reused while they match the objects (`paths.cached_copies`); every process downloads the whole folder."""
        self.path = path
        self.index = codes_shards.read_index(path, fingerprint)
        try:
            shards = paths.cached_copies(path, [shard["file"] for shard in self.index["shards"]], cache)
        except FileNotFoundError as e:
            raise ValueError(f"{path}: shards named in {codes_shards.INDEX_FILE} are not there: {e}") from None
        self._records = grain.sources.ArrayRecordDataSource(shards) if shards else []
        if len(self._records) != self.index["records"]:
            raise ValueError(f"{path}: its shards hold {len(self._records)} records, {codes_shards.INDEX_FILE} "
                             f"says {self.index['records']}")

    @property
    def fingerprint(self) -> str:
        return self.index["fingerprint"]

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, record_key: SupportsIndex) -> dict[str, Any]:
        return codes_shards.decode_record(self._records[record_key])

    def __repr__(self) -> str:
        return f"CodesSource({self.path!r}: {len(self)} records, {self.index['seconds']:.0f} s of audio)"
