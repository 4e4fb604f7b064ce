"""Spark for the Databricks tests: the Thrift Server shipped in the pyspark wheel, and a local SparkSession.

The Thrift Server (HTTP transport, path `cliservice`) carries the connector path. In HTTP mode
HiveThriftServer2 ignores its bind-host setting and listens on every interface, so callers must run
this only inside a private network namespace (see test_spark_thrift.py). The dialect-parity cases run
on a local SparkSession instead (`start_local_session`): no Thrift polling or row-by-row result
conversion per statement, and an in-memory catalog. Both are sized for 2 cores and small data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SparkThriftServer:
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.workdir / "thriftserver.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_thrift_server(workdir: Path, *, timeout: float = 180) -> SparkThriftServer:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    java_home = os.environ.get("JAVA_HOME") or str(Path(shutil.which("java") or "/usr/bin/java").resolve().parents[1])
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "JAVA_HOME": java_home, "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOCAL_HOSTNAME": "localhost"}
    cmd = [
        str(SPARK_HOME / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--master", "local[2]", "--driver-memory", "1g",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.sql.shuffle.partitions=2", "--conf", "spark.default.parallelism=2",
        "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", f"spark.sql.warehouse.dir={workdir / 'warehouse'}",
        "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName={workdir / 'metastore_db'};"
                  "create=true",
        "--conf", f"spark.driver.extraJavaOptions=-Dderby.system.home={workdir} -Djava.io.tmpdir={workdir}",
        "--hiveconf", "hive.server2.transport.mode=http",
        "--hiveconf", f"hive.server2.thrift.http.port={port}",
        "--hiveconf", "hive.server2.thrift.http.path=cliservice",
        "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        "--hiveconf", f"hive.server2.logging.operation.log.location={workdir / 'oplogs'}",
        "spark-internal",
    ]
    log = open(workdir / "thriftserver.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = SparkThriftServer(proc, port, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("Spark Thrift Server exited:\n" + server.log_tail())
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError("Spark Thrift Server did not start:\n" + server.log_tail())


def local_session_conf(workdir: Path) -> dict[str, str]:
    """Few partitions (the demo tables are a few MB), scans split so both cores work, no UI."""
    return {
        "spark.master": "local[2]",
        "spark.driver.memory": "1g",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.sql.files.maxPartitionBytes": str(1 << 20),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(workdir / "warehouse"),
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={workdir}",
    }


def start_local_session(workdir: Path) -> Any:
    """A local SparkSession (pyspark.sql.SparkSession) bound to 127.0.0.1."""
    workdir.mkdir(parents=True, exist_ok=True)
    java_home = os.environ.get("JAVA_HOME") or str(Path(shutil.which("java") or "/usr/bin/java").resolve().parents[1])
    os.environ.update({"SPARK_HOME": str(SPARK_HOME), "JAVA_HOME": java_home, "SPARK_LOCAL_IP": "127.0.0.1",
                       "SPARK_LOCAL_HOSTNAME": "localhost"})
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("ssg-dialect-parity")
    for key, value in local_session_conf(workdir).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
