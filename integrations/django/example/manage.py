#!/usr/bin/env python3
"""The example project: `python3 manage.py migrate && python3 manage.py
runserver 127.0.0.1:8000`, then `cachegate serve --origin
http://127.0.0.1:8000` in front of it."""
import os
import sys

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    # Use the package from this checkout when it is not installed.
    sys.path.insert(1, os.path.dirname(here))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
