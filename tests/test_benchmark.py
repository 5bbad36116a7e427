"""`make benchmark` end to end on the CPU, at toy sizes: the command that will fill the GPU
table (channels_last, torch.compile, the bfloat16 and compile variants) runs, and writes
every ratio it prints into its JSON file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def test_the_benchmark_command_runs_every_variant_on_the_cpu(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "dcgan_step.py"), "--batch", "8", "--width", "8",
           "--steps", "2", "--rounds", "2", "--channels-last", "--compile",
           "--variants", "bf16,compile,compile+bf16", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["compile"] is True and result["channels_last"] is True and result["batch"] == 8
    assert result["plain_images_per_s"] > 0 and result["package_images_per_s"] > 0
    assert result["ratio"] == pytest.approx(result["package_images_per_s"] / result["plain_images_per_s"], rel=0.01)
    assert set(result["variants"]) == {"bf16", "compile", "compile+bf16"}
    for name, v in result["variants"].items():
        assert v["images_per_s"] > 0, name
        assert v["ratio_to_plain_fp32"] == pytest.approx(v["images_per_s"] / result["plain_images_per_s"], rel=0.01)
