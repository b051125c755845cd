"""The workspace: a folder (or a PostgreSQL database plus a folder) holding models, environments and services."""
