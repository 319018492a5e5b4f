"""Every file the library reads or writes, local or in an object store, one module per job.

- `paths.py`           path operations on local files and fsspec URLs (gs://, s3://, ...): exists, list, read
- `staged.py`          staged writes: every output appears whole or not at all (`staged_file`, `write_text`, ...)
- `download_cache.py`  local copies of remote files, downloaded once and checked on every use (`cached_copies`)
- `synced_folder.py`   a folder of growing files (training logs) kept in step with a remote workdir
- `inputs.py`          command-line inputs: folders and file lists expanded into files
- `outputs.py`         output checks: a writable output folder, no output overwriting an input
- `audio_files.py`     audio files (soundfile): read as mono float32, written as 16-bit wav
- `codes_files.py`     the codes file format (`.codes.npz`)
- `codes_shards.py`    the codes shards format (ArrayRecord shards plus `index.json`)

The package sits above the codec (codes files carry the model config) and below the checkpoints; nothing in
`nn/` or `codec/` imports it. Nothing is imported here, so importing one module loads only what it needs.
"""
