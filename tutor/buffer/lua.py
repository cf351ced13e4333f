"""The buffer's Lua scripts, each in its own file under scripts/, with the library files it uses prepended."""

import hashlib
from functools import cache
from pathlib import Path

import redis
from redis.cluster import RedisCluster

_SCRIPTS = Path(__file__).parent / "scripts"

# The library files (scripts/lib/) each script calls into.
_LIBRARIES = {
    "push": ("count", "pending"),
    "snapshot": ("count",),
    "count": ("count",),
    "ack": ("pending",),
}


@cache
def source(name: str) -> str:
    """Return the source of script `name`: its shebang line first (Redis reads flags there only), then its libraries."""
    text = (_SCRIPTS / f"{name}.lua").read_text()
    shebang, body = ("", text) if not text.startswith("#!") else text.split("\n", 1)
    libraries = [(_SCRIPTS / "lib" / f"{library}.lua").read_text() for library in _LIBRARIES.get(name, ())]
    return "\n".join(part for part in [shebang, *libraries, body] if part)


@cache
def _sha(name: str) -> str:
    return hashlib.sha1(source(name).encode()).hexdigest()


def run(name: str, client: redis.Redis | RedisCluster, keys: list, args: list):
    """Run script `name` through `client`: by its SHA, and by its source where Redis does not know it yet.

    The source goes with the script's keys, so a cluster sends it to their node only (SCRIPT LOAD
    would go to every node, and fail while any of them is down); EVAL caches it there.
    """
    try:
        return client.evalsha(_sha(name), len(keys), *keys, *args)
    except redis.exceptions.NoScriptError:
        return client.eval(source(name), len(keys), *keys, *args)
