"""Errors raised by the course's data loaders."""

from __future__ import annotations


class DataError(ValueError):
    """A data file or folder is missing, unreadable or inconsistent.

    The message always names the offending file (or folder), says what is wrong
    with it and what to do about it, so a student can fix the problem without
    reading a traceback.
    """
