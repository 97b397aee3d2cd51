#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minirag.settings")
    # Reach what `make run` runs (var/runtime.env), or attach the embedded PostgreSQL for this command.
    from minirag.runtime import prepare_manage_command

    prepare_manage_command(sys.argv)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
