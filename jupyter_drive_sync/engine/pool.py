"""Wait for a run's worker pool, ending the run at the first error a task let through.

Push and restore tasks record every per-file problem in their summary themselves; what comes
out of a future is run-ending (the user must reconnect, Drive is full, the daily cap is reached).
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, wait
from typing import Iterable

from ..core.options import RequestPacer
from ..drive.pacing import Pacer


def raise_first_error(futures: Iterable[Future]) -> None:
    """Wait until all are done or one raised; then cancel those not started and raise its error."""
    done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
    for fut in done:
        exc = fut.exception()
        if exc is not None:
            for other in not_done:
                other.cancel()
            raise exc


def shared_pacer(rate: float, *, max_concurrency: int) -> RequestPacer:
    """One request pacer for several runs at once: the hub job's pushes of many homes all draw
    on one Cloud project's quota, so they slow down together when Drive pushes back."""
    return Pacer(rate, max_concurrency=max_concurrency)
