"""The live semantic layer: loaded at start-up, reloaded on SIGHUP and when model files change.

A reload builds a complete new layer (models → physical types → virtual schema → compiler) off to
the side and swaps it in only if every step succeeded; an invalid model set is logged and refused
while the last good one keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from gateway.backends.base import Backend
from virtual_schema.loader import ModelLoadError, load_models
from virtual_schema.semantic_layer import SemanticLayer, build_semantic_layer

log = structlog.get_logger("gateway.models")


def _snapshot(path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in sorted(path.rglob("*")):
        if p.suffix in (".yml", ".yaml") and p.is_file():
            with contextlib.suppress(OSError):
                out[str(p)] = p.stat().st_mtime
    return out


class ModelRegistry:
    def __init__(self, path: Path, backend: Backend) -> None:
        self.path = path
        self.backend = backend
        self.version = 0
        self._layer: SemanticLayer | None = None
        self._folded: dict[str, list[str]] = {}
        self._mtimes: dict[str, float] = {}
        self._listeners: list[Callable[[SemanticLayer], None]] = []
        self._lock = asyncio.Lock()
        self.last_error: str | None = None

    @property
    def layer(self) -> SemanticLayer:
        assert self._layer is not None, "models not loaded"
        return self._layer

    @property
    def loaded(self) -> bool:
        return self._layer is not None

    def is_semantic_table(self, name: str) -> bool:
        """Whether a relation name from the parser names a virtual table. Unquoted identifiers arrive
        folded to lower case, so a model exposed as `KibanaSampleDataEcommerce` answers to them too
        when that is unambiguous (the compiler resolves names the same way)."""
        layer = self.layer
        if layer.schema.table(name) is not None:
            return True
        return len(self._folded.get(name.lower(), ())) == 1

    def on_change(self, listener: Callable[[SemanticLayer], None]) -> None:
        self._listeners.append(listener)

    async def load(self) -> SemanticLayer:
        async with self._lock:
            mtimes = _snapshot(self.path)
            models = await asyncio.to_thread(load_models, self.path)
            physical: dict[str, Any] = {}
            for relation in sorted(models.relations()):
                physical[relation] = await self.backend.table_schema(relation)
            layer = build_semantic_layer(models, physical, self.backend.dialect, version=self.version + 1)
            self.version += 1
            folded: dict[str, list[str]] = {}
            for t in layer.schema.tables:
                folded.setdefault(t.name.lower(), []).append(t.name)
            self._layer, self._folded = layer, folded
            self._mtimes = mtimes
            self.last_error = None
            for listener in self._listeners:  # e.g. the catalog rebuild: seconds of work, off the loop
                await asyncio.to_thread(listener, layer)
            log.info("models.loaded", version=self.version, tables=len(layer.schema.tables), path=str(self.path))
            return layer

    async def reload(self, reason: str) -> bool:
        forget = getattr(self.backend, "forget_schemas", None)
        if forget is not None:
            forget()
        try:
            await self.load()
            return True
        except ModelLoadError as e:
            self.last_error = str(e)
            log.error("models.reload_refused", reason=reason, problems=[str(p) for p in e.problems])
        except Exception as e:  # the last good set keeps serving whatever went wrong
            self.last_error = str(e)
            log.error("models.reload_failed", reason=reason, error=str(e))
        return False

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            current = _snapshot(self.path)
            if current != self._mtimes:
                self._mtimes = current
                await self.reload("files changed")
