"""The listening socket the supervisor binds once and every worker accepts on.

``TCP_NODELAY`` is set on the listening socket, which Linux copies to every accepted connection,
and the socket is created with ``IPPROTO_TCP`` so that asyncio also sets it on each connection
it wraps. Without it (a socket made as ``socket.socket(family)`` has protocol 0, which asyncio
does not recognise as TCP) a response written in two segments waits for the client's delayed
ACK: ~40 ms per keep-alive request, the stall that ``uvicorn --workers`` shows with the asyncio
loop.
"""

from __future__ import annotations

import socket

__all__ = ["listen_socket"]


def listen_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A bound, listening, inheritable TCP socket with ``TCP_NODELAY`` (IPv4 or IPv6)."""
    infos = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock
