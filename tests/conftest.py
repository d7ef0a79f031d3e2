pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.mongo",
    "tests.fixtures.documents",
    "tests.fixtures.engine",
]
