"""Flag rules: the catalogue, the stage tables built from it, and their SQL helpers.

- :mod:`analysis.rules.catalogue`: one declared :class:`Rule` per flag (code,
  severity, thresholds, SQL, wording, README row, dispute role).
- :mod:`analysis.rules.stages`: the shared stage tables, filtered to what the rules
  declare, and the statements of one evaluation.
- :mod:`analysis.rules.places`: postcode and city matching (``delivered_elsewhere``).
- :mod:`analysis.rules.sql`: SQL helpers shared with :mod:`analysis.disputes`.
- :mod:`analysis.rules.docs`: the README's flag table and ``[rules]`` reference,
  generated from the catalogue.

Evaluation and the flag history are :mod:`analysis.flags`.
"""

from analysis.rules.catalogue import (
    FLAG_CODES,
    RULES,
    SEVERITIES,
    SEVERITY_RANK,
    DisputeRole,
    Rule,
    Threshold,
    codes_with,
    rule,
    thresholds,
)
from analysis.rules.stages import flags_statements, params

__all__ = [
    "FLAG_CODES",
    "RULES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "DisputeRole",
    "Rule",
    "Threshold",
    "codes_with",
    "flags_statements",
    "params",
    "rule",
    "thresholds",
]
