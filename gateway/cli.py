"""Command-line entry point."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from gateway.config import load_settings
from gateway.logs import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(argv)
    except ValidationError as e:
        print(f"invalid settings:\n{e}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    from gateway.app import run

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))
    return 0
