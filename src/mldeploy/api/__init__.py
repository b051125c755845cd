"""The Azure ML v1 style Python API (``from mldeploy import Workspace, Model, ...``)."""
