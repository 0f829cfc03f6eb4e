"""Train beta with each loss on the same budget, then measure both on the held-out test photos.

    python benchmarks/loss_comparison.py                      # 128 px, 40 epochs each, about 30 min on 2 CPU cores
    python benchmarks/loss_comparison.py --epochs 100 --output results/loss_comparison

The same as `python benchmarks/same_budget.py --vary loss` (see there).
"""

from same_budget import main  # benchmarks/, this script's folder, is on the path

if __name__ == "__main__":
    main(vary="loss")
