"""Grades MLP assignments: runs untrusted submissions in a sandboxed child,
compares their raw outputs with ``reference`` and reports evidence and next steps."""

__version__ = "0.1.0"
