#!/usr/bin/env python3
"""Start the Semantic SQL Gateway (see `--help`)."""

from __future__ import annotations

import sys

from gateway.cli import main

if __name__ == "__main__":
    sys.exit(main())
