"""Run by an image's environment build step with the base image's python3 (mldeploy imports only its variable's
name, and the file needs nothing but the standard library):
``python3 build_pip.py COMMAND...`` fetches the host's pip settings from the one-time URL in
$MLDEPLOY_PIP_SETTINGS (served on 127.0.0.1 by the build's mldeploy process, see build_settings) and runs
COMMAND with them as PIP_* variables. They stay in that process's memory: no file of the step's layer, no
build argument and no history line holds them, whether the step succeeds or fails."""

import json
import os
import sys
import urllib.request

URL_VARIABLE = "MLDEPLOY_PIP_SETTINGS"


def main() -> None:
    url = os.environ.pop(URL_VARIABLE, "")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 is never behind a proxy
    try:
        with opener.open(url, timeout=30) as answer:
            settings = json.load(answer)
    except (OSError, ValueError) as error:
        sys.exit(f"Could not read the host's pip settings from mldeploy ({error}); build the image with mldeploy.")
    os.execvpe(sys.argv[1], sys.argv[1:], {**os.environ, **settings})


if __name__ == "__main__":
    main()
