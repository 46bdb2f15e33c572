"""The ingest writer, measured: check-ins received and stored, batch sizes, commit latency."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from crontopus.server.observability.metrics import Metrics
from crontopus.server.services.checkins import CheckIn, RunState
from crontopus.server.services.ingest import IngestWriter


class MeteredIngestWriter(IngestWriter):
    """An `IngestWriter` that records what it does in `metrics`."""

    def __init__(self, *args: Any, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics
        metrics.bind_queue_depth(lambda: self.depth)

    async def submit(self, check_in: CheckIn) -> RunState:
        self.metrics.received(check_in)
        return await super().submit(check_in)

    async def _store(
        self, check_ins: Sequence[CheckIn]
    ) -> dict[tuple[uuid.UUID, uuid.UUID], RunState]:
        started = time.perf_counter()
        stored = await super()._store(check_ins)
        self.metrics.stored_batch(len(check_ins), time.perf_counter() - started)
        return stored
