"""`benchmark e2e` on CPU at a tiny size: inference.py reconstruct over a generated folder against the kernel."""
import json
import subprocess
import sys

TOP_FIELDS = {"command", "settings", "machine", "folder", "plan", "compile", "kernel", "e2e", "ratio", "cpu_ratio",
              "peak_memory_gib", "peak_memory_kind", "load_average_end"}
E2E_FIELDS = {"command_s", "command_audio_per_s", "files_per_s", "command_cpu_s", "command_cpu_s_per_audio_s",
              "pass_compilations", "other_compilations", "compile_s", "load_average_before", "load_average_after"}


def test_e2e_runs_the_command_on_a_folder_against_the_kernel(tmp_path):
    # files of 0.5-1 s all pad to the smallest bucket (1 s): one shape for the command, one for the kernel
    output = tmp_path / "e2e.json"
    run = subprocess.run([sys.executable, "-m", "bigcodec_jax.benchmark", "e2e", "--variant", "tiny_train",
                          "--files", "8", "--min-seconds", "0.5", "--max-seconds", "1", "--batch-size", "2",
                          "--repeats", "1", "--window", "2", "--output", str(output)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(output.read_text())
    assert TOP_FIELDS <= set(report), TOP_FIELDS - set(report)
    folder, plan, e2e, kernel = report["folder"], report["plan"], report["e2e"], report["kernel"]
    assert folder["files"] == 8 and 0.5 <= folder["min_s"] <= folder["max_s"] <= 1.0
    assert folder["rates"] == {"16000": 5, "44100": 2, "48000": 1}  # resampling is exercised
    assert plan["batches"] == 4 and plan["partial_batches"] == 0 and plan["shapes"] == [[2, 80]]
    assert 0 < plan["efficiency"] <= 1 and plan["padded_frames"] == 4 * 2 * 80
    assert E2E_FIELDS <= set(e2e), E2E_FIELDS - set(e2e)
    assert e2e["pass_compilations"] == 0  # every shape the command ran was compiled ahead of time
    assert kernel["batch"] == 2 and kernel["both_audio_per_s"] > 0 and report["compile"]["kernel_s"] > 0
    assert e2e["command_audio_per_s"] == folder["audio_s"] / e2e["command_s"]
    assert e2e["files_per_s"] == 8 / e2e["command_s"]
    assert report["ratio"] == e2e["command_audio_per_s"] / kernel["both_audio_per_s"] > 0
    assert report["cpu_ratio"] == kernel["both_cpu_s_per_audio_s"] / e2e["command_cpu_s_per_audio_s"] > 0
    assert e2e["command_cpu_s"] > 0
    for line in ("kernel:", "end to end:", "files/s", "ratio to the kernel:"):
        assert line in run.stdout, run.stdout
