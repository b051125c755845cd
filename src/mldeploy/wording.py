"""Whose words a message speaks: the Python API's (calls and arguments) or the CLI's (commands and flags).

Advice is written once with both forms, ``phrase(api="overwrite=True", cli="--overwrite")``; the command
line switches the whole process to its own wording at start, so a CLI user never reads a Python call.
"""

_cli = False


def use_cli_wording() -> None:
    """From now on, messages in this process name CLI commands and flags."""
    global _cli
    _cli = True


def phrase(api: str, cli: str) -> str:
    """The form of a piece of advice that the current reader can type."""
    return cli if _cli else api
