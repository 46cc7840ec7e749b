"""The mutation suite: tests of the tests (see harness.py)."""
