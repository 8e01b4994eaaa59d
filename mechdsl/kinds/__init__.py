"""Spec kinds (contract, game, scenario): each declares its statements and checker (in
`mechdsl.lang`), its model, its back end and the verbs it supports; `registry.KINDS` is the
one table the CLI reads. See docs/architecture.md."""

from mechdsl.kinds.kind import VERBS, Kind
from mechdsl.kinds.registry import KINDS, kind_of_model, kind_of_source, kind_of_spec

__all__ = ["KINDS", "VERBS", "Kind", "kind_of_model", "kind_of_source", "kind_of_spec"]
