"""A private 3-master Redis Cluster for the tests: on free ports, in a directory of its own, stopped by pid."""

import random
import socket
import subprocess
import time
from pathlib import Path

import redis

from tutor.tests.redis_server import RedisServer

MASTERS = 3
# A node also listens on its port + 10000 (the cluster bus): both must be free.
BUS_OFFSET = 10000


def free_node_port() -> int:
    """Return a free port whose bus port (+10000) is free too."""
    while True:
        port = random.randint(20000, 55000)
        try:
            with socket.socket() as sock, socket.socket() as bus:
                sock.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + BUS_OFFSET))
        except OSError:
            continue
        return port


class RedisClusterServers:
    """Three redis-server nodes joined into one cluster (no replicas), each serving a third of the slots."""

    def __init__(self, workdir: Path, *options: str):
        # Without full coverage, the nodes that are up keep serving their slots while another is down.
        cluster = [
            "--cluster-enabled",
            "yes",
            "--cluster-require-full-coverage",
            "no",
            "--cluster-node-timeout",
            "2000",
        ]
        self.nodes = []
        try:
            for n in range(MASTERS):
                # A directory per node: each keeps its own node file (and AOF, when asked for).
                (workdir / f"node-{n}").mkdir()
                options_of_node = [*cluster, "--cluster-config-file", "nodes.conf", *options]
                self.nodes.append(RedisServer(workdir / f"node-{n}", *options_of_node, port=free_node_port()))
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_until_ok()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """The address of one node: the cluster client finds the others from it."""
        return self.nodes[0].url

    def wait_until_ok(self) -> None:
        """Wait until every node that runs says the cluster serves all slots it can."""
        deadline = time.monotonic() + 30
        for node in self.nodes:
            if node.process.poll() is not None:
                continue
            while redis.Redis(port=node.port).cluster("INFO")["cluster_state"] != "ok":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster on port {node.port} never reached cluster_state:ok")
                time.sleep(0.05)

    def start(self) -> None:
        """Start every stopped node again (same ports and node files: the cluster forms again, empty)."""
        for node in self.nodes:
            if node.process.poll() is not None:
                node.start()
        self.wait_until_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
