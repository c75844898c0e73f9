"""The `vigil` command: manage.py for an installed Vigil (`vigil demo`, `vigil migrate`)."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vigil.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    # `vigil demo ...` reads better than `vigil vigil demo ...`.
    if len(argv) > 1 and argv[1] == "demo":
        argv.insert(1, "vigil")
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
