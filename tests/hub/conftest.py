"""Fixtures for the nightly hub run: a fake Kubernetes API server driven by the real client."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from kube_fake import FakeKube  # noqa: E402


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    fake = FakeKube(namespace="jhub")
    fake.url = fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def kube_api(kube: FakeKube):
    from kubernetes import client

    api = client.ApiClient(client.Configuration(host=kube.url))
    yield api
    api.close()
