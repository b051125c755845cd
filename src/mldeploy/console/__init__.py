"""The web console (``mldeploy ui``): a client of the workspace, the targets, diagnosis and planning.

Nothing here is imported by the scoring server, nor by the CLI until ``mldeploy ui`` runs.
"""
