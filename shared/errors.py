"""The one error type the user is meant to read, in a module of its own so that the command lines can
import it without loading TensorFlow (it is also `shared.data.InputError`, where it has always been)."""


class InputError(Exception):
    """Something the user gave us is wrong; the message says what and how to fix it."""
