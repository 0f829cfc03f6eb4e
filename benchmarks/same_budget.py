"""Train a tier twice on the same budget, differing in one flag, then measure both on the held-out test photos.

    python benchmarks/same_budget.py --vary loss         # beta: regression against classification (lr 1e-3, as in the README)
    python benchmarks/same_budget.py --vary precision    # beta: float32 against bfloat16 (lr 3e-4, the training default)
    python benchmarks/same_budget.py --vary hints        # full_version: trained with simulated users' hints or without
    python benchmarks/same_budget.py --vary precision --epochs 100 --output results/precision

Both trainings see the same images (--images, default datasets/landscapes/train
and extra), image size, epochs, batch size, learning rate and seed (the
validation split and the initial weights); each keeps its best-validation model.
A model already in --output is reused (delete it to train again; an interrupted
training continues with --resume). Then `shared.evaluate` measures both against
the grayscale and mean-ab baselines on datasets/landscapes/test and prints one
table; the report and figure are in <output>/report/.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {  # --vary: (tier, [(name, its train.py flags)] for the two trainings, their learning rate)
    "loss": ("beta", [("regression", ["--loss", "regression"]), ("classification", ["--loss", "classification"])], 1e-3),
    "precision": ("beta", [("float32", ["--precision", "float32"]), ("bfloat16", ["--precision", "bfloat16"])], 3e-4),
    "hints": ("full_version", [("no_hints", ["--no-hints"]), ("hints", ["--hints"])], 3e-4),
}


def main(argv=None, vary=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vary", choices=sorted(VARIANTS), default=vary, required=vary is None)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, help="the same for both (default: 1e-3 for loss, 3e-4 for precision)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", nargs="+", help="training photos (default: beta/train.py's)")
    parser.add_argument("--test-images", default=str(REPO_ROOT / "datasets" / "landscapes" / "test"))
    parser.add_argument("--output", type=Path, help="default: results/<vary>_comparison")
    args = parser.parse_args(argv)
    tier, variants, learning_rate = VARIANTS[args.vary]
    args.learning_rate = args.learning_rate or learning_rate
    args.output = args.output or REPO_ROOT / "results" / f"{args.vary}_comparison"

    models = [args.output / f"{tier}_{name}.keras" for name, _ in variants]
    for (name, flags), model in zip(variants, models):
        train(tier, name, flags, model, args)
    evaluate = [sys.executable, "-m", "shared.evaluate", "--model", *map(str, models),
                "--input", args.test_images, "--output", str(args.output / "report")]
    subprocess.run(evaluate, cwd=REPO_ROOT, check=True)


def train(tier, name, flags, model, args):
    state = model.with_name(f"{model.stem}.state.json")
    epochs_done = json.loads(state.read_text())["epochs_done"] if state.exists() else None
    if model.exists() and (epochs_done is None or epochs_done >= args.epochs):
        print(f"{name}: reusing {model} (delete it to train again)")
        return
    command = [sys.executable, f"{tier}/train.py", *flags, "--model-out", str(model),
               "--epochs", str(args.epochs), "--image-size", str(args.image_size),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed),
               "--learning-rate", str(args.learning_rate)]
    if args.images:
        command += ["--images", *args.images]
    if state.exists():
        command.append("--resume")
    print(f"{name}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


if __name__ == "__main__":
    main()
