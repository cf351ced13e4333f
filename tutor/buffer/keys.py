"""Every Redis key of the buffer, named `tutor:<what>` or `tutor:<what>:<id>`: no other module builds one."""

STREAM = "tutor:events"
DEAD_LETTERS = "tutor:events:dead"
STATS = "tutor:stats"
FLUSH_LOCK = "tutor:flush:lock"
GENERATION = "tutor:generation"
GENERATION_RUN = "tutor:generation:run"
BANK_VERSION = "tutor:version:exercise-bank"

# The scripts build a learner's pending and version keys from the user ids they read: prefix, then id.
PENDING_PREFIX = "tutor:pending:"
VERSION_PREFIX = "tutor:version:"
_STATE = "tutor:state:"
_EXISTS = "tutor:exists:"
_THROTTLE = "tutor:throttle:"


def pending(user_id) -> str:
    """Return the key of the sorted set of the learner's events accepted but not yet in PostgreSQL."""
    return f"{PENDING_PREFIX}{user_id}"


def version(user_id) -> str:
    """Return the key of the learner's version, bumped each time their rows in PostgreSQL change."""
    return f"{VERSION_PREFIX}{user_id}"


def state(user_id) -> str:
    """Return the key of what readers kept about the learner."""
    return f"{_STATE}{user_id}"


def exists(user_id) -> str:
    """Return the key of the mark saying that the learner exists."""
    return f"{_EXISTS}{user_id}"


def exists_user(key: bytes | str) -> str:
    """Return the user id a learner-exists mark's key names."""
    return (key.decode() if isinstance(key, bytes) else key).removeprefix(_EXISTS)


def throttle(name: str) -> str:
    """Return the key of a throttle's counter, named after its client and window."""
    return f"{_THROTTLE}{name}"
