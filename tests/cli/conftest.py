from tests.datasets.conftest import pets  # noqa: F401 - the same small dataset for CLI tests
