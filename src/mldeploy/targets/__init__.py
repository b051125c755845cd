"""Deployment targets: local processes (here), Docker Engine and Kubernetes (to come), behind one protocol."""
