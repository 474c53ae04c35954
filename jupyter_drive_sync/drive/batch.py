"""Many small Drive calls in one HTTP request: batches of at most 100 parts, retried part by part.

Folder creates, metadata-only creates of empty files and `get`s of many IDs go this way, so a
home with thousands of folders costs tens of requests instead of thousands. The batch request
itself is retried like any call; its parts are judged one by one.

Drive counts each call inside a batch against its limits, writes against the account's write
limit too, and takes them all at once: a batch of writes therefore carries no more than the
write pacer lets out at once (`WritePacer.batch_limit`), and waits for that many write tokens.
"""

from __future__ import annotations

from typing import Any

from .calls import DriveCalls, RequestMaker
from .errors import RUN_ENDING, DriveApiError, as_drive_error, is_retryable
from .transport import ThreadState

__all__ = ["MAX_BATCH", "BatchResults", "run_batch"]

MAX_BATCH = 100  # Drive's limit on calls in one batch request

BatchResults = dict[str, dict[str, Any] | DriveApiError]
"""Per key: the part's JSON answer, or the error it finally failed with."""


def run_batch(calls: DriveCalls, requests: dict[str, RequestMaker], *, what: str, writes: bool = False
              ) -> BatchResults:
    """Run requests (key → builder of one request, *not* executed) in batch requests of ≤ 100 parts
    (`writes`: each part is a write call; then at most what the write pacer lets out at once).

    Per key: the JSON answer, or the DriveApiError it finally failed with. The batch request
    itself is retried like any call (a retry after a lost answer meets 409s, which the
    callers settle); parts that failed retryably go again in the next round, after a
    backoff; a batch that fails for good fails each of its parts. Run-ending errors
    (NeedsReauth, StorageFull, DailyCapReached) are raised.
    """
    results: BatchResults = {}
    keys = list(requests)
    size = min(MAX_BATCH, calls.write_pacer.batch_limit) if writes else MAX_BATCH
    for start in range(0, len(keys), size):
        _rounds(calls, {k: requests[k] for k in keys[start:start + size]}, results, what, writes)
    return results


def _rounds(calls: DriveCalls, todo: dict[str, RequestMaker], results: BatchResults, what: str,
            writes: bool) -> None:
    round_no = 0
    while todo:
        round_no += 1
        # Short request ids: a 33-char Drive ID makes the part's Content-ID header long
        # enough for the MIME generator to fold it, which not every server unfolds.
        order = list(todo)
        answers: dict[str, Any] = {}
        part_errors: dict[str, DriveApiError] = {}

        def callback(request_id: str, response: Any, exception: Exception | None) -> None:
            key = order[int(request_id)]
            if exception is None:
                answers[key] = response
                return
            err = as_drive_error(exception)
            if not isinstance(err, DriveApiError):
                err = DriveApiError(0, type(err).__name__, str(err), retryable=True)
            part_errors[key] = err

        def send(st: ThreadState) -> None:
            answers.clear()  # only the attempt that got an answer counts
            part_errors.clear()
            batch = st.service.new_batch_http_request(callback=callback)
            for n, key in enumerate(order):
                batch.add(todo[key](st), request_id=str(n))
            batch.execute(http=st.http)

        try:
            calls.call(send, cost=len(order), writes=len(order) if writes else 0, what=what)
        except RUN_ENDING:
            raise
        except DriveApiError as err:
            for key in order:
                results[key] = err
            return
        for key, response in answers.items():
            results[key] = response
            del todo[key]
        calls.parts_refused(part_errors.values(), writes=writes)  # counted, and the pacers slow down
        retry_later: list[DriveApiError] = []
        for key, err in part_errors.items():
            if isinstance(err, RUN_ENDING):
                raise err
            if is_retryable(err) and round_no < calls.retry.max_tries:
                retry_later.append(err)
            else:
                results[key] = err
                del todo[key]
        if todo and retry_later:
            worst = max(retry_later, key=lambda e: e.retry_after or 0.0)
            calls.retry.sleep(calls.retry.delay(round_no, worst))
