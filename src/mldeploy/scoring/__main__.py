"""``python -m mldeploy.scoring CONFIG.json``: the scoring server as deployments start it.

Only the scoring runtime is needed (no CLI, no workspace): this runs in the user's environment.
SIGHUP re-reads CONFIG.json and replaces the workers without dropping requests.
"""

import sys

from . import compiled
from .config import ConfigError, ServerConfig

EXIT_BAD_CONFIG = 2
EXIT_CANNOT_LISTEN = 1


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m mldeploy.scoring CONFIG.json")
    try:
        config = ServerConfig.from_file(sys.argv[1])
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(EXIT_BAD_CONFIG)
    compiled.activate()
    from .server import run  # after activate: the front's modules come from its build when there is one

    try:
        code = run(config, config_path=sys.argv[1])
    except OSError as error:  # the address is taken: said in plain words (bind), no traceback
        print(error.strerror or error, file=sys.stderr)
        code = EXIT_CANNOT_LISTEN
    sys.exit(code)


if __name__ == "__main__":
    main()
