"""Model backends: the protocol they meet (`backend`), the built-in PyTorch classifier and
detector, ONNX export and serving, a model served over HTTP, a pretrained backbone, evaluation,
and `FakeModel` for tests. Import what you need from its module: only those modules that need
torch import it."""
