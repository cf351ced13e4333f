"""Strict readers of environment variables: the one way the settings and gunicorn's config read one.

Each reader returns its default when the variable is unset, and otherwise parses the value strictly:
a malformed or out-of-range value is refused with a message naming the variable, the value and what
is allowed, so that a typo stops the process at start-up instead of quietly changing its behaviour
("maybe" is not false, "1 minute" is not 1 second). A variable set to the empty string is a value,
not "unset": only readers that give it a meaning (an optional URL, an optional list) accept it.
Passwords in URLs are masked in the messages, which end up in logs.

A refusal raises ImproperlyConfigured at once, except between collect() and check(), which a
settings module calls first and last: there a refused value is noted (the reader returns its
default so that reading can go on) and check() raises one ImproperlyConfigured naming every value
refused, so that one failed start shows every mistake.
"""

import os
import re
from pathlib import Path
from typing import TypeVar
from urllib.parse import SplitResult, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
# DRF's rate periods, spelled as the README documents them (DRF itself reads only the first letter).
RATE_PERIODS = ("s", "sec", "m", "min", "h", "hour", "d", "day")
MAX_RATE = 1_000_000_000

_WHOLE = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_WORD = re.compile(r"[A-Za-z0-9._:@-]{1,64}")
# A host name as Django's ALLOWED_HOSTS takes it: a name (a leading dot matches its subdomains), an
# IPv4 address, a bracketed IPv6 address or "*"; never a scheme, a port or a path, which never match.
_HOST = re.compile(r"\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\]")
_BIND = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]+)|unix:/.+")
# An S3 bucket's name as S3 allows it: 3 to 63 lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_RATE = re.compile(r"(?P<scope>[a-z_]+)=(?P<count>[0-9]+)/(?P<period>[a-z]+)")
# A URL's password: from the colon after the user name to the last @ before the path.
_PASSWORD = re.compile(r"(//[^/@:]*:)[^/]*@")

_T = TypeVar("_T")

# While a settings module is read: the one list of refusals that check() reports.
_collecting: list[list[str]] = []


def collect() -> None:
    """Note refusals from now on instead of raising at the first; check() raises them all."""
    _collecting[:] = [[]]


def check() -> None:
    """Stop noting refusals; raise ImproperlyConfigured naming every one noted since collect()."""
    refused = _collecting.pop() if _collecting else []
    if len(refused) == 1:
        raise ImproperlyConfigured(refused[0])
    if refused:
        raise ImproperlyConfigured(f"{len(refused)} settings refused:\n" + "\n".join(f"- {each}" for each in refused))


def refuse(message: str) -> None:
    """Refuse the start with `message`: at check() while collecting, else at once."""
    if not _collecting:
        raise ImproperlyConfigured(message)
    _collecting[0].append(message)


def boolean(name: str, default: bool) -> bool:
    """Return the boolean in `name`: true/false, 1/0, yes/no or on/off, in any case."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    return _refused(name, value, "one of true/false, 1/0, yes/no, on/off", default)


def integer(name: str, default: int, *, low: int, high: int) -> int:
    """Return the whole number in `name`, which must lie from `low` to `high`."""
    value = os.environ.get(name)
    if value is None:
        return default
    if _WHOLE.fullmatch(value) and low <= int(value) <= high:
        return int(value)
    return _refused(name, value, f"a whole number from {low} to {high}", default)


def number(name: str, default: float, *, high: float) -> float:
    """Return the positive number in `name` (decimals allowed, e.g. seconds), at most `high`."""
    value = os.environ.get(name)
    if value is None:
        return default
    if _DECIMAL.fullmatch(value) and 0 < float(value) <= high:
        return float(value)
    return _refused(name, value, f"a positive number (such as 0.5 or 2), at most {high:g}", default)


def choice(name: str, default: str, *, choices: tuple[str, ...]) -> str:
    """Return the one of `choices` named in `name`, in any case, spelled as in `choices`."""
    value = os.environ.get(name)
    if value is None:
        return default
    for allowed in choices:
        if value.lower() == allowed.lower():
            return allowed
    return _refused(name, value, "one of " + ", ".join(choices), default)


def text(name: str, default: str) -> str:
    """Return the value of `name` as it is: free text such as a secret key, which no message shows."""
    return os.environ.get(name, default)


def word(name: str, default: str) -> str:
    """Return the name in `name`: 1 to 64 letters, digits or any of . _ : @ -."""
    value = os.environ.get(name)
    if value is None:
        return default
    if _WORD.fullmatch(value):
        return value
    return _refused(name, value, "1 to 64 letters, digits or any of . _ : @ -", default)


def url(name: str, default: str, *, schemes: tuple[str, ...], empty_allowed: bool = False) -> str:
    """Return the URL in `name`, with one of `schemes`, a host where the scheme needs one and a valid port.

    With `empty_allowed`, the empty string is accepted and returned: the service is not used.
    A Redis URL's path may only name a database number; a PostgreSQL one must name a database.
    """
    value = os.environ.get(name)
    if value is None:
        return default
    if value == "" and empty_allowed:
        return value
    allowed = _url_refusal(value, schemes)
    return _refused(name, value, allowed, default) if allowed else value


def _url_refusal(value: str, schemes: tuple[str, ...]) -> str:
    """Return what a URL must be when `value` is not one of `schemes` that `url` accepts, else the empty string."""
    allowed = "a URL starting with " + " or ".join(f"{scheme}://" for scheme in schemes)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return f"{allowed}, with a port from 1 to 65535"
    if parts.scheme not in schemes or not value.startswith(f"{parts.scheme}://"):
        return allowed
    problem = "a port from 1 to 65535" if port == 0 else _lacks(parts)
    return f"{allowed}, with {problem}" if problem else ""


def database(name: str, default: str) -> dict:
    """Return Django's DATABASES entry for the PostgreSQL or SQLite URL in `name`."""
    return environ.Env.db_url_config(url(name, default, schemes=("postgres", "postgresql", "sqlite")))


def postgres_databases(name: str) -> list[dict]:
    """Return Django's DATABASES entries for the comma-separated PostgreSQL URLs in `name`; none when unset or empty."""
    items = urls(name, schemes=("postgres", "postgresql"), each="naming a database, with a port from 1 to 65535")
    return [environ.Env.db_url_config(item) for item in items]


def urls(
    name: str, *, schemes: tuple[str, ...], each: str = "with a host and, if any, a port from 1 to 65535"
) -> list[str]:
    """Return the comma-separated URLs in `name`, each with one of `schemes`; none when unset or empty.

    `each` says what else every URL needs, in the message of a refusal.
    """
    value = os.environ.get(name, "")
    if value == "":
        return []
    items = _items(value)
    if items is not None and not any(_url_refusal(item, schemes) for item in items):
        return items
    starts = " or ".join(f"{scheme}://" for scheme in schemes)
    return _refused(name, value, f"comma-separated URLs, each starting with {starts}, {each}", [])


def hosts(name: str, default: list[str]) -> list[str]:
    """Return the comma-separated host names in `name` (at least one): names, addresses, `.domain` or `*`."""
    value = os.environ.get(name)
    if value is None:
        return default
    items = _items(value)
    if items and all(_HOST.fullmatch(item) for item in items):
        return items
    return _refused(name, value, "comma-separated host names (no scheme, port or path), at least one", default)


def origins(name: str) -> list[str]:
    """Return the comma-separated origins in `name` (none when unset or empty), each `http(s)://host[:port]`."""
    value = os.environ.get(name, "")
    if value == "":
        return []
    items = _items(value)
    if items and all(_is_origin(item) for item in items):
        return items
    allowed = "comma-separated origins such as https://tutor.example.com (a scheme and a host, no path)"
    return _refused(name, value, allowed, [])


def rates(name: str, default: dict[str, str], *, scopes: tuple[str, ...]) -> dict[str, str]:
    """Return DRF throttle rates from `name` ("scope=N/period,..."); scopes it leaves out keep `default`'s."""
    value = os.environ.get(name)
    if value is None:
        return dict(default)
    found: dict[str, str] = {}
    for item in _items(value) or [""]:  # a malformed list: one empty item, which no rate matches
        match = _RATE.fullmatch(item)
        if (
            not match
            or match["scope"] not in scopes
            or match["scope"] in found
            or not 1 <= int(match["count"]) <= MAX_RATE
            or match["period"] not in RATE_PERIODS
        ):
            allowed = (
                f"comma-separated scope=N/period entries, each scope once and one of {', '.join(scopes)}, "
                f"N from 1 to {MAX_RATE} and the period one of {', '.join(RATE_PERIODS)}"
            )
            return _refused(name, value, allowed, dict(default))
        found[match["scope"]] = f"{int(match['count'])}/{match['period']}"
    return {**default, **found}


def directory(name: str) -> str | None:
    """Return the existing, writable directory in `name`, or None when it is unset."""
    value = os.environ.get(name)
    if value is None:
        return None
    if value and Path(value).is_dir() and os.access(value, os.W_OK | os.X_OK):
        return value
    return _refused(name, value, "the path of an existing directory this process can write to", None)


def absolute_path(name: str, default: str) -> str:
    """Return the absolute path in `name`: a place for files, made when first written to."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value and Path(value).is_absolute() and not Path(value).is_file():
        return value
    return _refused(name, value, "an absolute path, such as /var/lib/tutor/media, that is not a file", default)


def bucket(name: str) -> str:
    """Return the S3 bucket name in `name`, or the empty string when unset or empty (no bucket)."""
    value = os.environ.get(name, "")
    if value == "" or _BUCKET.fullmatch(value):
        return value
    return _refused(name, value, "an S3 bucket name: 3 to 63 lowercase letters, digits, . or -", "")


def domain(name: str) -> str:
    """Return the domain name in `name` (no scheme, port or path), or the empty string when unset or empty."""
    value = os.environ.get(name, "")
    if value == "" or _DOMAIN.fullmatch(value):
        return value
    return _refused(name, value, "a domain name such as media.example.com (no scheme, port or path)", "")


def bind(name: str, default: str) -> str:
    """Return the address a server listens on: `HOST:PORT` (port 1 to 65535) or `unix:/PATH`."""
    value = os.environ.get(name)
    if value is None:
        return default
    match = _BIND.fullmatch(value)
    if match and (match["port"] is None or 1 <= int(match["port"]) <= 65535):
        return value
    allowed = "HOST:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:8000), or unix:/PATH"
    return _refused(name, value, allowed, default)


def log_file(name: str) -> str | None:
    """Return where a log goes: `-` (stdout) or a file in an existing directory; None when unset or empty."""
    value = os.environ.get(name, "")
    if value == "":
        return None
    if value == "-" or (Path(value).parent.is_dir() and not Path(value).is_dir()):
        return value
    return _refused(name, value, "- (standard output), or a file in an existing directory", None)


def _lacks(parts: SplitResult) -> str:
    """Return what the host or path of a URL of a known scheme lacks, or the empty string."""
    if parts.scheme in ("redis", "rediss"):
        if not parts.hostname:
            return "a host"
        if parts.path not in ("", "/") and not _WHOLE.fullmatch(parts.path[1:]):
            return "the path, if any, a database number such as /0"
    elif parts.scheme in ("postgres", "postgresql"):
        if parts.path.strip("/") == "":
            return "a database name such as /tutor"
    elif parts.scheme == "sqlite":
        if len(parts.path) < 2:
            return "a file such as sqlite:////var/lib/tutor/db.sqlite3"
    elif parts.scheme in ("amqp", "http", "https") and not parts.hostname:
        return "a host"
    return ""


def _is_origin(item: str) -> bool:
    """Tell whether `item` is an origin: http or https, a host, an optional port and nothing else."""
    try:
        parts = urlsplit(item)
        parts.port  # noqa: B018 (parsing the port is the check)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https") and bool(parts.hostname) and not (parts.path or parts.query or parts.fragment)
    )


def _items(value: str) -> list[str] | None:
    """Split a comma-separated value; None when an item is empty ("a,,b", a trailing comma) or has spaces around it."""
    items = value.split(",")
    if any(not item or item != item.strip() for item in items):
        return None
    return items


def _refused(name: str, value: str, allowed: str, default: _T) -> _T:
    """Refuse `name`'s value, naming what is allowed (any password masked); return `default` while collecting."""
    shown = _PASSWORD.sub(r"\1***@", value)
    refuse(f"{name} must be {allowed}, not {shown!r}.")
    return default
