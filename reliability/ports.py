"""Loopback ports for the campaigns' servers (OpenBao, git daemon,
PostgreSQL, the emulators, the registry): one helper for every script."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's
    choice; the server that binds it next may still race another)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
