"""Gateway settings: command line > environment (SSG_*) > YAML file given with --config > defaults.

One frozen settings object is built at start-up and handed to the composition root; nothing reads
the environment after that.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.auth.scram import ScramVerifier


class UserEntry(BaseModel):
    """A gateway-side user. `scram` is a SCRAM-SHA-256 verifier as PostgreSQL stores it in pg_authid."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    scram: str

    @field_validator("scram")
    @classmethod
    def _valid_verifier(cls, v: str) -> str:
        ScramVerifier.parse(v)
        return v


# Verifier of the demo user's password "demo" (fixed salt so the default config is reproducible).
DEMO_VERIFIER = (
    "SCRAM-SHA-256$4096:ZGVtby1nYXRld2F5LXNhbHQ=$"
    "YoU7ODR16qdlhNYzv/ZWvyL9eAvPYISFyBqVm6e3a5Y=:TvcYYF6gSVbzr4KNn1uGRv2wOa0kicWjeMV4ZV3APQs="
)


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SSG_", frozen=True, extra="forbid", env_nested_delimiter="__")

    host: str = "127.0.0.1"
    port: int = Field(default=5433, ge=0, le=65535)
    models: Path = Path("./semantic-models")
    backend: Literal["duckdb", "databricks"] = "duckdb"
    duckdb: Path | None = None  # None: the demo warehouse under ./data, generated on first start
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_level: str = "info"
    log_format: Literal["json", "console"] = "json"
    database: str = "semantic"
    users: tuple[UserEntry, ...] = (UserEntry(name="demo", scram=DEMO_VERIFIER),)
    allow_cleartext_password: bool = False
    max_connections: int = Field(default=1000, ge=1)
    max_message_size: int = Field(default=64 * 1024 * 1024, ge=1024)
    backend_threads: int = Field(default=8, ge=1)
    duckdb_threads: int | None = Field(default=None, ge=1)  # DuckDB's own worker threads; None: DuckDB's default
    # DuckDB's memory_limit ("2GB", "512MiB"): bounds its buffer pool, which keeps every table block a scan read
    # until the limit forces eviction, and its operators, which spill to disk beyond it; None: DuckDB's 80% of RAM.
    duckdb_memory_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B|B)$")
    # Read-only DuckDB warehouse: identical statements running at the same time run once (see DuckDBBackend).
    coalesce_identical: bool = True
    batch_rows: int = Field(default=16384, ge=1)  # rows per backend Arrow batch: bounds what a stream holds
    watch_models: bool = True
    health_port: int | None = None  # HTTP readiness endpoint (GET /healthz, /readyz); None disables it
    databricks: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init (command line, then the YAML file merged underneath it by load_settings) wins over env.
        return (init_settings, env_settings)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="start_sql_server.py",
        description="Semantic SQL Gateway: PostgreSQL wire protocol in front of semantic models.",
    )
    p.add_argument("--config", type=Path, help="YAML file with any of the settings below")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default 5433; 0 picks a free one)")
    p.add_argument("--models", type=Path, help="directory of semantic model YAML files")
    p.add_argument("--backend", choices=["duckdb", "databricks"], help="warehouse (default duckdb)")
    p.add_argument("--duckdb", type=Path, help="DuckDB database file (default: the generated demo warehouse)")
    p.add_argument("--tls-cert", type=Path, help="PEM certificate; enables TLS")
    p.add_argument("--tls-key", type=Path, help="PEM private key for --tls-cert")
    p.add_argument("--log-level", help="debug|info|warning|error")
    p.add_argument("--log-format", choices=["json", "console"], help="log line format (default json)")
    p.add_argument("--health-port", type=int, help="serve GET /healthz and /readyz on this port")
    return p


def load_settings(argv: Sequence[str] | None = None) -> GatewaySettings:
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    if args.config is not None:
        with open(args.config, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, dict):
            raise SystemExit(f"{args.config}: expected a mapping of settings")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    for key, value in vars(args).items():
        if key != "config" and value is not None:
            values[key] = value
    return GatewaySettings(**values)
