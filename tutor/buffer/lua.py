"""The buffer's Lua scripts, each in its own file under scripts/, with the library files it uses prepended."""

from functools import cache
from pathlib import Path

import redis
from redis.commands.core import Script

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
def _script(name: str) -> Script:
    return Script(None, source(name).encode())


def run(name: str, client: redis.Redis, keys: list, args: list):
    """Run script `name` through `client` (by its SHA; Redis is sent the source when it does not know it)."""
    return _script(name)(keys=keys, args=args, client=client)
