"""Settings of the Databricks backend (the `databricks:` section of the gateway config).

The names follow databricks-sql-connector and the Databricks CLI (server_hostname, http_path,
warehouse_id, catalog, schema) so a config can be filled in from a workspace's connection details.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class RetrySettings(BaseModel):
    """Exponential backoff for transient failures before the first batch reached the client."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    attempts: int = Field(default=5, ge=1)
    initial_backoff_seconds: float = Field(default=1.0, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    multiplier: float = Field(default=2.0, ge=1)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(min(self.max_backoff_seconds, self.initial_backoff_seconds * self.multiplier ** (attempt - 1)))


class DatabricksSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    server_hostname: str = ""
    http_path: str | None = None
    warehouse_id: str | None = None
    catalog: str | None = None  # default catalog for ref() and unqualified names
    schema_: str | None = Field(default=None, alias="schema")
    auth_mode: Literal["passthrough", "service"] = "passthrough"
    # service mode: keyword arguments for databricks.sdk.core.Config (host is server_hostname); its
    # unified auth also reads DATABRICKS_* environment variables and ~/.databrickscfg profiles.
    service_auth: dict[str, Any] = Field(default_factory=dict)
    max_workers: int = Field(default=16, ge=1)  # threads running connector calls
    idle_expiry_seconds: float = Field(default=600.0, ge=0)  # idle connections per identity close after this
    max_idle_per_identity: int = Field(default=4, ge=0)
    batch_rows: int = Field(default=65536, ge=1)  # rows per fetchmany_arrow call
    retry: RetrySettings = RetrySettings()
    connect_timeout_seconds: float = Field(default=30.0, gt=0)
    ready_timeout_seconds: float = Field(default=10.0, gt=0)
    starting_notice: str = "the Databricks SQL warehouse is starting; the statement will run when it is up"
    schema_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    session_configuration: dict[str, str] = Field(default_factory=dict)  # Spark confs per connection
    # Extra keyword arguments for databricks.sql.connect (e.g. {"_tls_no_verify": false}); tests use it
    # to reach a local Spark Thrift Server.
    connect_kwargs: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _path(self) -> DatabricksSettings:
        if self.http_path and self.warehouse_id:
            raise ValueError("give http_path or warehouse_id, not both")
        return self

    @property
    def resolved_http_path(self) -> str:
        if self.http_path:
            return self.http_path
        if self.warehouse_id:
            return f"/sql/1.0/warehouses/{self.warehouse_id}"
        return ""
