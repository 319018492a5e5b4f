"""`CodesSource`: a tokenised corpus (`inference.py encode --format arrayrecord`) as a Grain random-access
source, for training a speech LM on the codes of any family (BigCodec, X-Codec2, NeuCodec).

    from bigcodec_jax.data import CodesSource
    source = CodesSource("codes/", fingerprint=codes_files.fingerprint(codec.params))  # or fingerprint=None
    source[0]  # {"id": "spk1/utt3.flac", "codes": int32 (n_q, frames), "length": 52800, "sample_rate": 16000}
    dataset = grain.MapDataset.source(source).shuffle(seed=0).map(...)   # global shuffling, checkpointable

Records are numbered across the shards in order (shortest audio first); the source is picklable, so
Grain worker processes can read it. The folder may be local or remote (gs://...): remote shards are
read from local copies in a cache folder, downloaded once (see `CodesSource.__init__`).
"""
from __future__ import annotations

import bisect
from typing import Any, SupportsIndex

import grain

from bigcodec_jax.errors import InputError
from bigcodec_jax.io import codes_shards, download_cache, paths


class CodesSource(grain.sources.RandomAccessDataSource):
    """The records of a codes shard directory; `index` holds its index.json (model config, fingerprint, the
    model's family, rates and code layout, counts, failed inputs), `damaged` the shards left out (with
    `skip_damaged`)."""

    def __init__(self, path: str, fingerprint: str | None = None, cache: str | None = None,
                 skip_damaged: bool = False):
        """`fingerprint` (of the codec that will use the codes, `codes_files.fingerprint(params)`): refuse
        codes made by other weights with a ValueError saying whose they are. A remote `path` (gs://...) is read
        from local copies of its shards (random access to records, as Grain shuffles them, wants local
        files rather than a request per record), downloaded once into the cache
        folder `cache` (default `download_cache.cache_dir()`: `$BIGCODEC_CACHE_DIR` or `~/.cache/bigcodec-jax`) and
        reused while they match the objects (`download_cache.cached_copies`); every process downloads the whole folder.

        A shard that is truncated, damaged or holds another number of records than index.json says is an
        `InputError` naming it (a training corpus should not silently lose data); with `skip_damaged` it is left
        out instead and listed in `damaged` as (shard, reason), and the records are those of the other shards.
        A record that cannot be read later is an `InputError` naming its shard."""
        self.path = path
        self.index = codes_shards.read_index(path, fingerprint)
        try:
            local = download_cache.cached_copies(path, [shard["file"] for shard in self.index["shards"]], cache)
        except FileNotFoundError as e:
            raise InputError(f"{path}: shards named in {codes_shards.INDEX_FILE} are not there: {e}") from None
        self.damaged: list[tuple[str, str]] = []
        self._shards: list[str] = []   # the shards read, as named in messages
        self._starts: list[int] = []   # the number of their first record
        ranges, total = [], 0
        for shard, copy in zip(self.index["shards"], local):
            name = paths.join(path, shard["file"])
            try:
                count = codes_shards.count_records(copy)
                if count != shard["records"]:
                    raise ValueError(f"holds {count} records, {codes_shards.INDEX_FILE} says {shard['records']}")
            except ValueError as e:
                if not skip_damaged:
                    raise InputError(f"{name}: {e}") from None
                self.damaged.append((name, str(e)))
                continue
            if count:
                self._shards.append(name)
                self._starts.append(total)
                ranges.append(f"{copy}[0:{count}]")  # counted once here, not again by the Grain source
                total += count
        self._records = grain.sources.ArrayRecordDataSource(ranges) if ranges else []

    @property
    def fingerprint(self) -> str:
        return self.index["fingerprint"]

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, record_key: SupportsIndex) -> dict[str, Any]:
        key = record_key.__index__()
        if not 0 <= key < len(self):
            raise IndexError(f"record {key} of {len(self)}")
        try:
            return codes_shards.decode_record(self._records[key])
        except (RuntimeError, ValueError) as e:  # array_record: RuntimeError for a damaged chunk
            shard = bisect.bisect_right(self._starts, key) - 1
            raise InputError(f"{self._shards[shard]}: record {key - self._starts[shard]}: "
                             f"{' '.join(str(e).split())}") from None

    def __repr__(self) -> str:
        return f"CodesSource({self.path!r}: {len(self)} records, {self.index['seconds']:.0f} s of audio)"
