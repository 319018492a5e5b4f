"""The training stream: determinism, exact resume (also through Orbax), host sharding, worker processes."""
import json

import grain
import numpy as np
import orbax.checkpoint as ocp
import pytest
import soundfile as sf

from bigcodec_jax import data

FILES = 8
SEGMENT = 800
STEP = 1e-5  # sample n of file i is (i + 1) / 16 + n * STEP: a crop tells its file and start


@pytest.fixture(scope="module")
def coded_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coded")
    for i in range(FILES):
        length = 1200 + 300 * i  # every file longer than the crop, so starts vary
        sf.write(folder / f"{i}.wav", (i + 1) / 16 + STEP * np.arange(length), 16000, subtype="FLOAT")
    return folder


def file_and_start(row):
    file = int(np.floor(row[0] * 16 + 1e-3)) - 1
    return file, int(round((row[0] - (file + 1) / 16) / STEP))


def loader(folder, batch=4, seed=0, process_index=0, process_count=1, **changes):
    cfg = data.default_config()
    cfg.source, cfg.path, cfg.segment_samples = "dir", str(folder), SEGMENT
    cfg.update(changes)
    return data.train_loader(cfg, batch, seed=seed, process_index=process_index, process_count=process_count)


def take(it, count):
    return [next(it)["wav"] for _ in range(count)]


def test_batches_are_crops_of_the_files(coded_folder):
    rows = np.concatenate(take(iter(loader(coded_folder)), FILES // 4))  # one epoch
    assert rows.shape == (FILES, SEGMENT) and rows.dtype == np.float32
    assert sorted(file_and_start(row)[0] for row in rows) == list(range(FILES))
    for row in rows:
        file, start = file_and_start(row)
        np.testing.assert_allclose(row, (file + 1) / 16 + STEP * np.arange(start, start + SEGMENT), atol=1e-6)


def test_same_seed_same_batches_other_seed_other_batches(coded_folder):
    first, again = take(iter(loader(coded_folder, seed=3)), 6), take(iter(loader(coded_folder, seed=3)), 6)
    other = take(iter(loader(coded_folder, seed=4)), 6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_epochs_are_reshuffled_and_crops_redrawn(coded_folder):
    epochs = np.concatenate(take(iter(loader(coded_folder)), 2 * FILES // 4)).reshape(2, FILES, SEGMENT)
    first, second = ([file_and_start(row) for row in epoch] for epoch in epochs)
    assert sorted(f for f, _ in second) == list(range(FILES))
    assert [f for f, _ in first] != [f for f, _ in second]
    assert dict(first) != dict(second)


def test_restored_state_continues_exactly(coded_folder):
    it = iter(loader(coded_folder, seed=5))
    take(it, 3)
    state = json.loads(json.dumps(it.get_state()))  # as a checkpoint stores it
    want = take(it, 4)
    resumed = iter(loader(coded_folder, seed=5))
    resumed.set_state(state)
    assert all(np.array_equal(a, b) for a, b in zip(want, take(resumed, 4)))
    assert state["batches"] == 3


def test_worker_processes_give_the_same_stream_and_resume(coded_folder):
    it = iter(loader(coded_folder, seed=7))
    want = take(it, 5)
    with_workers = iter(loader(coded_folder, seed=7, workers=2))
    with_workers.set_state({"batches": 2, "bad_examples": 0, "examples_read": 8})
    got = take(with_workers, 3)
    with_workers.close()
    assert all(np.array_equal(a, b) for a, b in zip(want[2:], got))


def test_two_hosts_split_each_global_batch(coded_folder):
    single = take(iter(loader(coded_folder, seed=1)), 2 * FILES // 4)
    hosts = [take(iter(loader(coded_folder, batch=4, seed=1, process_index=p, process_count=2)), 2 * FILES // 4)
             for p in range(2)]
    for step, batch in enumerate(single):
        assert hosts[0][step].shape == hosts[1][step].shape == (2, SEGMENT)
        together = np.concatenate([hosts[0][step], hosts[1][step]])
        assert sorted(map(tuple, together)) == sorted(map(tuple, batch))
    for epoch in range(2):
        files = [{file_and_start(row)[0] for b in host[epoch * 2:epoch * 2 + 2] for row in b} for host in hosts]
        assert not files[0] & files[1] and files[0] | files[1] == set(range(FILES))


def test_orbax_checkpoint_restores_the_iterator(coded_folder, tmp_path):
    it = iter(loader(coded_folder, seed=2))
    take(it, 2)
    manager = ocp.CheckpointManager(tmp_path / "ckpt")
    manager.save(2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointSave(it)))
    manager.wait_until_finished()
    want = take(it, 3)
    resumed = iter(loader(coded_folder, seed=2))
    manager.restore(2, args=ocp.args.Composite(data=grain.checkpoint.CheckpointRestore(resumed)))
    assert all(np.array_equal(a, b) for a, b in zip(want, take(resumed, 3)))
    manager.close()
