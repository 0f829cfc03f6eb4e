"""What the tiers share: Lab conversion, data pipeline, training loop, metrics, inference, video."""

import os

# TensorFlow's start-up chatter (CPU features, missing CUDA drivers) is not for the user.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
