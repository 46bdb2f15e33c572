"""A serving process freezes its startup heap and collects young objects less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from crontopus.server.serving import GC_YOUNG_THRESHOLD, prepare_process, uvicorn_options
from crontopus.server.settings import Settings


@pytest.fixture
def restored_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_preparing_the_process_freezes_what_exists_and_raises_the_young_threshold(
    restored_collector: None,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    prepare_process()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD


def test_uvicorn_reads_no_forwarded_headers_and_compresses_only_when_enabled(
    tmp_path: Path,
) -> None:
    plain = Settings.from_env({"CRONTOPUS_DATA_DIR": str(tmp_path)})
    compressed = Settings.from_env(
        {"CRONTOPUS_DATA_DIR": str(tmp_path), "CRONTOPUS_WEBSOCKET_COMPRESSION": "true"}
    )
    assert uvicorn_options(plain)["proxy_headers"] is False
    assert uvicorn_options(plain)["ws_per_message_deflate"] is False
    assert uvicorn_options(compressed)["ws_per_message_deflate"] is True
