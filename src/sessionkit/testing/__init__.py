"""Test helpers for applications and for authors of third-party backends.

* `StoreContract` / `AsyncStoreContract`: the store contract every built-in
  backend passes, as a class to subclass with a ``make_store`` method (see
  docs/testing.md). The async one needs pytest-asyncio.
* `FlakyStore` / `AsyncFlakyStore`: a memory store that can be switched
  down (raises `StoreUnavailable`), to test what an application or a
  wrapper does during an outage.
* `capture_events`: collect sessionkit's log events in a test.

```python
from sessionkit.testing import StoreContract

class TestMyStore(StoreContract):
    def make_store(self, **options):
        return MyStore(**options)
```
"""

from ._async.contract import AsyncStoreContract
from ._async.flaky import AsyncFlakyStore
from ._async.harness import AsyncContractHarness
from ._sync.contract import StoreContract
from ._sync.flaky import FlakyStore
from ._sync.harness import ContractHarness
from .logs import capture_events

__all__ = [
    "AsyncContractHarness",
    "AsyncFlakyStore",
    "AsyncStoreContract",
    "ContractHarness",
    "FlakyStore",
    "StoreContract",
    "capture_events",
]
