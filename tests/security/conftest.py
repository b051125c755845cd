"""Fixtures for security tests of deployments: the deployment suite's workspace, project folder and model,
reused as they are (a workspace that deletes its services at teardown, the seed's score.py, a small model)."""

from tests.deployments.conftest import model, project, workspace

__all__ = ["model", "project", "workspace"]
