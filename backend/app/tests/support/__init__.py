"""Helpers that the tests import, in modules named for what they hold. Fixtures stay in
the conftest.py files; `environment` is loaded first, as a pytest plugin (see addopts in
pyproject.toml), so that the app reads the test settings."""
