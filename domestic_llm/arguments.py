"""Constructor arguments of the adapters: unknown names are errors, never dropped.

The rule (one for both adapters): an argument that is not a field of the model
raises `ConfigurationError` naming it, the closest known field when one is close
("did you mean `temperature`?"), and where extra request-body fields go instead
(`model_kwargs=` — also accepted as `extra_body=`, and as `additional_kwargs=` for
LlamaIndex users). Passing an unknown name through to the server, as ChatOpenAI
does with a warning, would turn a typo such as `temprature=0.5` into a request
the server silently ignores; the error costs one edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ConfigurationError, is_credential_name

#: accepted spellings of `model_kwargs` (OpenAI SDK / ChatOpenAI say extra_body, LlamaIndex OpenAILike additional_kwargs)
MODEL_KWARGS_ALIASES = ("extra_body", "additional_kwargs")


def known_names(model_fields: dict[str, Any]) -> set[str]:
    """Field names of a pydantic model plus their aliases."""
    names = set(model_fields)
    for info in model_fields.values():
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.add(alias)
            elif alias is not None and hasattr(alias, "choices"):
                names.update(c for c in alias.choices if isinstance(c, str))
    return names


def check_arguments(owner: str, given: dict[str, Any], known: Iterable[str]) -> None:
    """Raise `ConfigurationError` for the first argument in `given` that is not in `known`."""
    known = set(known) | set(MODEL_KWARGS_ALIASES)
    public = sorted(k for k in known if not k.startswith("_"))
    for name, value in given.items():
        if name in known:
            continue
        import difflib  # only to word this error; not worth its import time on every import of the adapters

        close = difflib.get_close_matches(name, public, n=1, cutoff=0.75)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        shown = "***" if is_credential_name(name.lower()) and not isinstance(value, (int, float)) else repr(value)[:80]
        raise ConfigurationError(
            f"{owner}: unknown argument `{name}`={shown}{hint}. Extra request-body fields the server "
            f"understands go in model_kwargs={{{name!r}: ...}} (or extra_body=...)"
        )


def merge_model_kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with `extra_body` / `additional_kwargs` merged into `model_kwargs` (conflicts are an error)."""
    if not any(values.get(a) is not None for a in MODEL_KWARGS_ALIASES):
        return values
    values = dict(values)
    merged = dict(values.get("model_kwargs") or {})
    for alias in MODEL_KWARGS_ALIASES:
        extra = values.pop(alias, None) or {}
        if not isinstance(extra, dict):
            raise ConfigurationError(f"{alias}={extra!r} must be a dict of request-body fields")
        clash = sorted(k for k in extra if k in merged and merged[k] != extra[k])
        if clash:
            raise ConfigurationError(f"{alias} and model_kwargs both set {clash} differently; pass each field once")
        merged.update(extra)
    values["model_kwargs"] = merged
    return values


__all__ = ["MODEL_KWARGS_ALIASES", "check_arguments", "known_names", "merge_model_kwargs"]
