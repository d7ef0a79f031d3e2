from tests.integration.workers.harness import platform, robot_settings, sink  # noqa: F401 - fixtures
