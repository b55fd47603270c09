"""Where things are: the backend project, the repository, the test tools."""

from pathlib import Path

# backend/app/tests/support/paths.py -> backend/app
PROJECT_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = PROJECT_DIR.parents[1]
PLUGINS_DIR = PROJECT_DIR / "tests" / "plugins"
