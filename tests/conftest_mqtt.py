"""MQTT fixtures: a real Mosquitto (plain, and TLS + password), one loaded NLU model shared by services."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.broker import PASSWORD, USER, Mosquitto, find_or_install_mosquitto, make_tls


@pytest.fixture(scope="session")
def mosquitto_bin() -> str:
    binary, reason = find_or_install_mosquitto()
    if binary is None:
        pytest.skip(reason)
    return binary


@pytest.fixture(scope="module")
def broker(mosquitto_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A plain broker on a free loopback port, shared by a test module."""
    b = Mosquitto(mosquitto_bin, tmp_path_factory.mktemp("mosquitto"))
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def tls_broker(mosquitto_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """TLS with a self-made CA, anonymous login refused, one user (tests.broker.USER / PASSWORD)."""
    work = tmp_path_factory.mktemp("mosquitto-tls")
    try:
        tls = make_tls(work / "pki")
    except Exception as exc:  # openssl missing or too old: say why
        pytest.skip(f"cannot make test certificates with openssl: {exc}")
    b = Mosquitto(mosquitto_bin, work, tls=tls, passwords={USER: PASSWORD})
    b.start()
    yield b
    b.stop()


@pytest.fixture
def broker_factory(mosquitto_bin: str, tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Brokers of a test's own (to kill and restart); all are stopped afterwards."""
    made: list[Mosquitto] = []

    def make(**kw: object) -> Mosquitto:
        b = Mosquitto(mosquitto_bin, tmp_path / f"mosquitto{len(made)}", **kw)  # type: ignore[arg-type]
        made.append(b)
        b.start()
        return b

    yield make
    for b in made:
        b.stop()
