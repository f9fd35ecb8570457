"""The engine wing: everything that knows durable-rules. compiler plans shards, wire writes durable's
JSON, native loads its C core, adapter runs the hot path, diagnostics explains failures."""

from ..errors import EngineError
from .adapter import Engine, Firing, Outcome, available
from .compiler import Plan, compile_rules

__all__ = ["Engine", "EngineError", "Firing", "Outcome", "Plan", "available", "compile_rules"]
