"""Test helpers for applications and third-party backends.

* :func:`capture_events`: collect sessionkit's log events in a test.
"""

from .logs import capture_events

__all__ = ["capture_events"]
