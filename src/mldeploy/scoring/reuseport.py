"""Two scoring servers on one port, for a handover without a gap (a Docker service's update: both containers
share the host's network and the service's port).

Both listeners set SO_REUSEPORT, so the kernel spreads new connections over them. Alone, that loses
connections: when the old server closes its listener, the connections still in its accept queue are reset
(measured: bench/reuseport_handover.py). So the new server joins the port only once its workers are ready, and
then attaches a one-instruction classic BPF program to the port's group (SO_ATTACH_REUSEPORT_CBPF) that sends
every new connection to its own socket: the old server's queue only empties from then on, and it closes its
listener once the queue is empty. Classic BPF needs no privilege, no capability and no host setting (unlike
eBPF, or the host-wide ``net.ipv4.tcp_migrate_req``).

The program returns an index in the group's array of sockets, which is in the order the sockets started
listening: the newest is the last, so the new server counts the group's listeners (``/proc/net/tcp``) right
after it starts listening. When the old listener leaves, the new one takes its index; the program's index is
then past the group's end, and the kernel falls back to its hash over what is left: the new server alone.

Only servers whose config has ``reuse_port`` set the option, and one joins a port another server listens on only
when it is that server's replacement ($MLDEPLOY_TAKE_OVER=1): otherwise the port is taken, as for any server.
"""

import errno
import os
import socket
import struct
from pathlib import Path

SO_ATTACH_REUSEPORT_CBPF = 51  # <asm-generic/socket.h>; the Python socket module does not name it
BPF_RET_K = 0x06  # BPF_RET | BPF_K: return a constant
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp
TCP_INFO_SIZE = 104
TCPI_UNACKED = 24  # offset in struct tcp_info: on a listener, the connections waiting in its accept queue
TAKE_OVER_ENV = "MLDEPLOY_TAKE_OVER"  # "1": this server replaces the one on its port (the Docker target sets it)


def _proc_address(host: str, port: int) -> tuple[str, str]:
    """The local address as /proc/net/tcp[6] writes it (the address's 32-bit words in host byte order), and
    the table to read."""
    if ":" in host:
        words = struct.unpack("=4I", socket.inet_pton(socket.AF_INET6, host))
        return "".join(f"{word:08X}" for word in words) + f":{port:04X}", "/proc/net/tcp6"
    return f"{struct.unpack('=I', socket.inet_aton(host))[0]:08X}:{port:04X}", "/proc/net/tcp"


def listeners(host: str, port: int) -> int:
    """How many sockets listen on exactly ``host:port`` on this host (in this network namespace)."""
    address, table = _proc_address(host, port)
    rows = (line.split() for line in Path(table).read_text().splitlines()[1:])
    return sum(1 for row in rows if row[1] == address and row[3] == TCP_LISTEN)


def taking_over(host: str, port: int) -> bool:
    """True when another server listens on the port and this one is to replace it ($MLDEPLOY_TAKE_OVER=1);
    OSError (the port is taken) when one listens and this server is not a replacement: a server that shares
    its port never joins another one's by chance."""
    if listeners(host, port) == 0:
        return False
    if os.environ.get(TAKE_OVER_ENV) != "1":
        raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))
    return True


def steer_here(listener: socket.socket, host: str, port: int) -> int:
    """Send every new connection on the port to ``listener``, which has just started listening (so it is the
    last of the port's group); its index in the group."""
    import ctypes  # only a server taking a port over needs it (3 ms, 0.4 MiB)

    index = listeners(host, port) - 1
    instruction = (ctypes.c_uint64 * 1)(struct.unpack("=Q", struct.pack("=HBBI", BPF_RET_K, 0, 0, index))[0])
    program = struct.pack("@HP", 1, ctypes.addressof(instruction))  # struct sock_fprog; the kernel copies it
    listener.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, program)
    return index


def queued(listener: socket.socket) -> int:
    """Connections established and waiting in ``listener``'s accept queue."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    return int(struct.unpack_from("=I", info, TCPI_UNACKED)[0])
