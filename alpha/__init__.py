import shared  # noqa: F401  (first, so TensorFlow starts quietly)
