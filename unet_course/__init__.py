"""Helpers shared by the notebooks of the U-Net segmentation course.

Data loading (``pets``, ``carla``, ``standin``), plots (``plotting``), the checks
that the notebooks' tests use (``checks``) and where a notebook runs (``runtime``).
Exercise solutions never live here: students write those in the notebooks.
"""

__version__ = "0.1.0"
