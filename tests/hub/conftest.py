"""Fixtures for the nightly hub run: a fake Kubernetes API server driven by the real client."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.hub.kube_fake import FakeKube


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
