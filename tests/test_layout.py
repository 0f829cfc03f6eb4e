"""The library's shape: shared/ loads any tier's model without importing a tier."""

import subprocess
import sys

from conftest import REPO_ROOT

SHARED_MODULES = ["ab_bins", "accel", "cli", "colorize", "data", "efficientnet", "evaluate", "hints", "lab", "layers",
                  "metrics", "pretrained", "temporal", "training", "video"]


def test_importing_shared_imports_no_tier():
    code = (
        "import sys\n"
        + "".join(f"import shared.{name}\n" for name in SHARED_MODULES)
        + "tiers = sorted({m.split('.')[0] for m in sys.modules} & {'alpha', 'beta', 'full_version'})\n"
        + "print(','.join(tiers))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_shared_loads_and_runs_a_full_version_model_without_the_tier():
    code = (
        "import sys, numpy as np\n"
        "from shared import inference\n"
        "colorizer = inference.load_colorizer('full_version/pretrained.keras')\n"
        "(ab,) = colorizer.predict_ab([np.full((40, 60), 50.0, np.float32)])\n"
        "assert ab.shape == (40, 60, 2) and colorizer.takes_hints\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alpha', 'beta', 'full_version'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
