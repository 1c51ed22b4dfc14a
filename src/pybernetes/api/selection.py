"""Selector operators, as apimachinery ``pkg/selection`` names them: shared by label and field selectors.

Label selectors use all of them (``in``, ``notin``, ``=``, ``==``, ``!=``, ``exists``, ``!``, ``gt``, ``lt``);
field selectors only ``=`` and ``!=``. They live apart so that :mod:`pybernetes.api.selectors` and
:mod:`pybernetes.api.fieldselector` can share them without importing each other.
"""

from __future__ import annotations

IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
