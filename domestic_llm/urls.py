"""URL hygiene at construction: what a pasted URL may carry that would only fail at the first call."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigurationError, redact_url


def tidy_url(name: str, value: str | None) -> str | None:
    """`value` without surrounding whitespace and with a lower-case scheme; `None` when blank.

    Whitespace or control characters inside the URL are refused with the raw value
    echoed (credentials removed), as they cannot be meant.
    """
    if value is None:
        return None
    url = value.strip()
    if not url:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        shown = redact_url(value) if "?" in value or "@" in value else value  # urlsplit drops \n and \t
        raise ConfigurationError(
            f"{name}={shown!r} contains whitespace or control characters inside the URL; "
            "check what was pasted (a line break, a tab, a space before the path)"
        )
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("http", "https"):
        url = scheme.lower() + "://" + rest
    return url


def append_path(base_url: str, path: str) -> str:
    """`base_url` with `path` appended to its path; a query string (`?api-version=…`) stays at the end."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


__all__ = ["append_path", "tidy_url"]
