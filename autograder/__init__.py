"""The instructor's tool of the U-Net course: release, collect, grade, feedback, demo.

Run ``python -m autograder --help`` from the repository root.
"""
