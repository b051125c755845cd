"""The scoring server: runs an unchanged Azure ML ``score.py`` behind a fast HTTP front.

This package never imports the control plane (CLI, workspace, targets): it is what runs inside every
deployment, in the user's own Python environment.
"""
