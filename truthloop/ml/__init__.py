"""Model backends: the protocol they meet (`backend`), the built-in PyTorch classifier and
detector, ONNX export and serving, a model served over HTTP, a pretrained backbone, evaluation,
and `FakeModel` for tests. Import what you need from its module: only those modules that need
torch import it."""

import os

# OpenMP threads that spin while they wait take the cores from whatever else runs: training the
# detector on 2 cores shared with other work took 123-145 s spinning and 25-36 s with waiting
# threads asleep. Only takes effect when torch has not been imported yet; a value set by the
# user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
