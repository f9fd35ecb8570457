"""advisor: a rule-based key-account strategy advisor that turns a sales course into pre-visit briefs."""

__version__ = "0.1.0"
