"""Mockup twins of built-in tools: same name and models, a fast body without the tool's
dependencies. The registry uses them instead of the real tools when MOCKUP_TESTS is set."""
