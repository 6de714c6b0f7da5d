"""The security suite uses the reliability suite's fixtures: one way to run the product."""

from tests.reliability.conftest import sandbox, sandbox_certificates  # noqa: F401
