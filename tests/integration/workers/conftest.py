from tests.integration.workers.harness import platform, robot_settings, sink, smtp  # noqa: F401 - fixtures
