"""mldeploy: deploy Azure ML v1 style scoring scripts on your own machine, in Docker and on Kubernetes."""

__version__ = "0.1.0"
