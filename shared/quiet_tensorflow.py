"""Import TensorFlow without its start-up notices.

While its native libraries load, TensorFlow writes straight to the process's stderr (file
descriptor 2, below Python): absl's "All log messages before absl::InitializeLog() is called
are written to STDERR", the oneDNN and cudart_stub notices, the CPU-instructions note, twice
over, since two of its libraries each carry their own copy of absl. TF_CPP_MIN_LOG_LEVEL does
not reach them, as they come before logging is set up. `install()` makes the first
`import tensorflow` (by Keras or anyone) run with descriptor 2 sent to a temporary file, then
writes back to stderr every line that is not one of those notices: a real warning or error
printed during the import still shows.
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

NOTICE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:.]+ +\d+ \S+\] "  # informational lines (I...), whatever they say
    r"|To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|E\d{4} [\d:.]+ +\d+ \S+\] Unable to register cu(DNN|FFT|BLAS) factory"
    r"|W\d{4} [\d:.]+ +\d+ \S+\] Computation placer already registered)"
)


class QuietFinder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, with a loader that runs its import inside `notices_dropped()`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; also lets the lookup below find the real spec
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = QuietLoader(spec.loader)
        return spec


class QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with notices_dropped():
            self.loader.exec_module(module)


def install():
    """From now on, the first `import tensorflow` drops the notices (nothing if it was imported already)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietFinder())


@contextlib.contextmanager
def notices_dropped():
    """Run the block with descriptor 2 captured; afterwards write to stderr what was not a notice."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not NOTICE.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()
