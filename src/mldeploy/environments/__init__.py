"""Environments: conda yaml / pip requirements -> one normalized spec -> a cached uv virtual environment."""
