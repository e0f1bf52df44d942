"""Suite-wide fixtures."""

import json.encoder

import pytest

_C_MAKE_ENCODER = json.encoder.c_make_encoder


@pytest.fixture(autouse=True)
def _restore_json_encoder():
    """Undo cjio's process-wide patch of ``json.encoder`` (once ``cjio.cityjson`` is imported,
    ``json.dumps`` rounds every float to 6 decimals) after each test, so tests that use cjio
    as a peer do not change what later tests in the same worker write."""
    yield
    json.encoder.c_make_encoder = _C_MAKE_ENCODER
    if "float" in vars(json.encoder):
        del json.encoder.float
