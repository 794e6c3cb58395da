"""Where the CLI finds the demo until it imports :mod:`sessionkit.presets.demo` directly."""

from .presets.demo import DEFAULT_DEMO_URL, run_demo

__all__ = ["DEFAULT_DEMO_URL", "run_demo"]
