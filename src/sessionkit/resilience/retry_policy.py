"""When and how long the `RetryingStore` wrappers wait: one policy
for the sync and the async wrapper.

Only `StoreUnavailable` is retried, never
`CircuitOpen` (retrying a breaker that says "do not call" defeats
it) and never a conflict or bad input. Waits grow exponentially with random jitter on top
and are capped; attempts and total time are both bounded.

"Total time": no retry *starts* later than ``max_delay`` seconds after the first failure
(a retry whose wait would end past it is not made). An attempt already running is not
cut short: the backend's own timeouts (socket, command) bound it, so a call can take up
to the first attempt + ``max_delay`` + one more attempt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import tenacity

from ..errors import CircuitOpen, StoreUnavailable
from .events import Emitter, Event

__all__ = ["IDEMPOTENT_OPERATIONS", "RetryPolicy"]

#: The one table of the operations the wrapper retries (the wrapper consults it). With no
#: other writer on the key, repeating one of them after a lost reply leaves the store as
#: one successful call would (values, expiries); only a version number or a returned
#: count may differ. With another writer, a retried write whose first attempt was applied
#: lands again *after* that writer's: ``set`` replaces its value, ``merge`` re-applies our
#: fields over its, ``delete`` removes what it wrote, ``touch`` restarts the expiry. The
#: window is the backoff (seconds). ``update`` (its function would run twice on the
#: stored value) and ``create`` (a retry after a lost reply would report someone else's
#: write) are not retried, and neither is ``scan`` (a half-read iteration cannot be
#: replayed unseen). ``apply_if_newer`` (a journal replay's write) is conditional on its
#: stamp, so a repeat after a lost reply finds its own first attempt and is superseded.
IDEMPOTENT_OPERATIONS = frozenset(
    {
        "get",
        "get_entry",
        "exists",
        "ttl",
        "get_many",
        "count",
        "set",
        "set_many",
        "merge",
        "delete",
        "touch",
        "apply_if_newer",
        "purge",
        "sweep",
    }
)


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, StoreUnavailable) and not isinstance(error, CircuitOpen)


class _StopBeforeDelay(tenacity.stop.stop_base):
    """Stop if the next attempt would start ``max_delay`` or more after ``started``.

    tenacity's ``stop_before_delay`` reads ``time.monotonic``; this reads ``clock``, so
    tests can make attempts take (fake) time.
    """

    def __init__(self, max_delay: float, clock: Callable[[], float], started: float) -> None:
        self.max_delay, self.clock, self.started = max_delay, clock, started

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        # tenacity chooses the wait first, so upcoming_sleep is the wait before the retry.
        return self.clock() - self.started + retry_state.upcoming_sleep >= self.max_delay


@attrs.frozen
class RetryPolicy:
    """How many attempts, how long between them, and for how long at most.

    The defaults: 3 attempts, waiting 1 s then 2 s
    (doubling, capped at 4 s), plus up to ``jitter`` seconds of random extra so that
    clients that failed together do not retry together; no retry starts later than
    ``max_delay`` seconds after the first failure (the attempt in flight then is bounded
    by the backend's own timeout, not by this policy).
    """

    attempts: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    initial_wait: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    max_wait: float = attrs.field(default=4.0, validator=attrs.validators.ge(0))
    jitter: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=10.0, validator=attrs.validators.gt(0))

    @staticmethod
    def retries(operation: str) -> bool:
        """Whether ``operation`` is retried at all (it is in `IDEMPOTENT_OPERATIONS`)."""
        return operation in IDEMPOTENT_OPERATIONS

    def tenacity_options(
        self,
        operation: str,
        emitter: Emitter,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> dict[str, Any]:
        """Keyword arguments for a fresh ``tenacity.Retrying``/``AsyncRetrying``, made just
        after the first failure: ``max_delay`` counts from now, on ``clock`` (monotonic)."""
        started = clock()

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            emitter.emit(
                Event.RETRY_SCHEDULED,
                operation=operation,
                attempt=state.attempt_number,
                wait_s=round(state.upcoming_sleep, 4),
                error=type(error).__name__,
            )

        def give_up(state: tenacity.RetryCallState) -> None:
            emitter.emit(
                Event.RETRY_EXHAUSTED,
                operation=operation,
                attempts=state.attempt_number,
                elapsed_s=round(clock() - started, 4),
            )
            assert state.outcome is not None
            state.outcome.result()  # re-raise the last StoreUnavailable

        return {
            "stop": tenacity.stop_after_attempt(self.attempts)
            | _StopBeforeDelay(self.max_delay, clock, started),
            "wait": tenacity.wait_exponential(
                multiplier=self.initial_wait, max=self.max_wait, exp_base=2
            )
            + tenacity.wait_random(0, self.jitter),
            "retry": tenacity.retry_if_exception(_is_retryable),
            "before_sleep": before_sleep,
            "retry_error_callback": give_up,
        }
