"""Pydantic instances built without validation, for the adapters' per-chunk objects.

A streamed answer makes one framework message per chunk (LangChain's `AIMessageChunk`,
LlamaIndex's `ChatResponse`); most chunks carry only text or reasoning, built from values
that are valid by construction (`str`s the core decoded, fresh lists and dicts).
Validating them again costs more than the rest of the chunk's way through the wrapper.
`built` gives the instance state pydantic's own validation leaves (as `model_construct`
does, without its per-call walk over the fields, which costs more than validating).

Safety rests on a check each adapter runs once, at import: probe objects are built both
ways and compared with `same_objects`; if a framework or pydantic release makes them
differ (a new field, a validator that rewrites a value, another instance layout), the
adapter keeps validating. No framework is imported here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

_new = object.__new__
# a pydantic model's whole state is these four slots of BaseModel; their descriptors' setters
# are called directly (cheaper than object.__setattr__ by name). None under another layout:
# `built` then raises, and the adapters' import-time checks turn their fast paths off.
_set_dict, _set_fields_set, _set_extra, _set_private = (
    getattr(BaseModel.__dict__.get(slot), "__set__", None)
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


def built(cls: type[BaseModel], fields: dict[str, Any], fields_set: set[str], extra: dict[str, Any] | None = None
          ) -> Any:
    """An instance of `cls` holding `fields` (every field, in declaration order), not validated.

    `fields_set`: the names a validated construction would mark as given; `extra`: `{}` for
    models that allow extra fields (pydantic keeps a dict there), else `None`.
    """
    obj = _new(cls)
    _set_dict(obj, fields)  # type: ignore[misc]
    _set_fields_set(obj, fields_set)  # type: ignore[misc]
    _set_extra(obj, extra)  # type: ignore[misc]
    _set_private(obj, None)  # type: ignore[misc]
    return obj


def same_objects(a: Any, b: Any) -> bool:
    """Equal, with the same types, field order, fields set and extra at every level of nesting.

    (Everything a repr or a dump is made of; comparing reprs too would cost langchain-core's
    slow `__repr_args__` at every import for nothing.)
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return (a == b and a.model_fields_set == b.model_fields_set
                and a.__pydantic_extra__ == b.__pydantic_extra__ and list(a.__dict__) == list(b.__dict__)
                and all(same_objects(a.__dict__[k], b.__dict__[k]) for k in a.__dict__))
    if isinstance(a, list):
        return len(a) == len(b) and all(same_objects(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_objects(a[k], b[k]) for k in a)
    return bool(a == b)
