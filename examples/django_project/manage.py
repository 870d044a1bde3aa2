#!/usr/bin/env python
"""The example's manage.py:  AUTH_SECRET=... python manage.py runserver  (Daphne serves it)."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
