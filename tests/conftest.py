"""Fixtures shared by several test files."""

import pytest

from autograder import publish, sources

#: The student repository the publish and Colab-like tests publish for (never contacted).
STUDENT_URL = "https://github.com/test-school/unet-students"


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    """The whole course published for STUDENT_URL (about a minute: nbgrader generates it)."""
    out = tmp_path_factory.mktemp("published") / "unet-students"
    return publish.publish(out, sources.Repository(STUDENT_URL), None)
