"""Train beta with each loss on the same budget, then measure both on the held-out test photos.

    python benchmarks/loss_comparison.py                      # 128 px, 40 epochs each, about 30 min on 2 CPU cores
    python benchmarks/loss_comparison.py --epochs 100 --output results/loss_comparison

Both trainings see the same images (--images, default datasets/landscapes/train
and extra), image size, epochs, batch size and validation split (--seed); each
keeps its best-validation model. A model already in --output is reused (delete it
to train again; an interrupted training continues with --resume). Then
`shared.evaluate` measures both against the grayscale and mean-ab baselines on
datasets/landscapes/test and prints one table; the report and figure are in
<output>/report/.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
LOSSES = ("regression", "classification")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="the same for both (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", nargs="+", help="training photos (default: beta/train.py's)")
    parser.add_argument("--test-images", default=str(REPO_ROOT / "datasets" / "landscapes" / "test"))
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "results" / "loss_comparison")
    args = parser.parse_args(argv)

    models = [args.output / f"beta_{loss}.keras" for loss in LOSSES]
    for loss, model in zip(LOSSES, models):
        train(loss, model, args)
    evaluate = [sys.executable, "-m", "shared.evaluate", "--model", *map(str, models),
                "--input", args.test_images, "--output", str(args.output / "report")]
    subprocess.run(evaluate, cwd=REPO_ROOT, check=True)


def train(loss, model, args):
    state = model.with_name(f"{model.stem}.state.json")
    epochs_done = json.loads(state.read_text())["epochs_done"] if state.exists() else None
    if model.exists() and (epochs_done is None or epochs_done >= args.epochs):
        print(f"{loss}: reusing {model} (delete it to train again)")
        return
    command = [sys.executable, "beta/train.py", "--loss", loss, "--model-out", str(model),
               "--epochs", str(args.epochs), "--image-size", str(args.image_size),
               "--batch-size", str(args.batch_size), "--seed", str(args.seed),
               "--learning-rate", str(args.learning_rate)]
    if args.images:
        command += ["--images", *args.images]
    if state.exists():
        command.append("--resume")
    print(f"{loss}: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, cwd=REPO_ROOT, check=True)


if __name__ == "__main__":
    main()
