"""What the tiers share: the library (lab, ab_bins, layers, efficientnet, hints, data, training, accel,
inference, colorize, metrics, temporal, figures, pretrained) and the programs (commands, cli, video,
evaluate, app, console). `from shared import colorize` is the one-call API. shared/ never imports a tier."""

import os

from shared import quiet_tensorflow

# TensorFlow's start-up chatter (CPU features, missing CUDA drivers) is not for the user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
quiet_tensorflow.install()
