import socket

import pytest

from tests.conftest import NonLoopbackConnection


def test_a_connection_to_another_machine_is_refused_before_any_packet() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(NonLoopbackConnection):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routed


def test_a_loopback_connection_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
