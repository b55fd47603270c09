import pytest

# The helpers in tests.support assert as tests do: pytest rewrites their asserts too,
# registered here because it must happen before the first of them is imported.
pytest.register_assert_rewrite("tests.support")
