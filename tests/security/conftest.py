"""Fixtures for security tests of deployments: the deployment suite's workspace, project folder and model,
reused as they are (a workspace that deletes its services at teardown, the seed's score.py, a small model),
and the console suite's browser and page."""

from tests.deployments.conftest import model, project, workspace
from tests.support.console import browser, page

__all__ = ["browser", "model", "page", "project", "workspace"]
