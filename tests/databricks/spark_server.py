"""Start the Spark Thrift Server shipped in the pyspark wheel (HTTP transport, path `cliservice`).

In HTTP mode HiveThriftServer2 ignores its bind-host setting and listens on every interface, so
callers must run this only inside a private network namespace (see run_in_netns.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

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
        "--conf", "spark.sql.shuffle.partitions=4",
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
