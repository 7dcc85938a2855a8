"""What one loopback hop costs on this machine: two processes sending 64 bytes back and forth
over TCP, on the other CPU or the same one, after 10 ms asleep (like a request at 100 req/s)
or back to back. Prints the median cost of `send()` and of the round trip.

Run: python -m bench.hop_cost   (Linux: it pins the two processes with sched_setaffinity)
"""

from __future__ import annotations

import os
import socket
import statistics
import time

_ROUNDS = 300
_MESSAGE = b"x" * 64


def _echo(listener: socket.socket, cpu: int) -> None:
    os.sched_setaffinity(0, {cpu})
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := connection.recv(len(_MESSAGE)):
        connection.sendall(data)


def measure(sender_cpu: int, echo_cpu: int, gap_s: float) -> tuple[float, float]:
    """Median microseconds of `send()` and of the round trip."""
    listener = socket.create_server(("127.0.0.1", 0))
    child = os.fork()
    if child == 0:
        try:
            _echo(listener, echo_cpu)
        finally:
            os._exit(0)
    os.sched_setaffinity(0, {sender_cpu})
    sends: list[float] = []
    round_trips: list[float] = []
    with socket.create_connection(listener.getsockname()) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(_ROUNDS):
            time.sleep(gap_s)
            started = time.perf_counter()
            client.send(_MESSAGE)
            sent = time.perf_counter()
            client.recv(len(_MESSAGE))
            answered = time.perf_counter()
            sends.append((sent - started) * 1e6)
            round_trips.append((answered - started) * 1e6)
    os.waitpid(child, 0)
    listener.close()
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return statistics.median(sends), statistics.median(round_trips)


def main() -> None:
    other = 1 if (os.cpu_count() or 1) > 1 else 0
    for label, echo_cpu in (("other CPU", other), ("same CPU", 0)):
        for gap_s in (0.01, 0.0):
            send_us, round_trip_us = measure(0, echo_cpu, gap_s)
            pause = f"after {gap_s * 1000:.0f} ms asleep" if gap_s else "back to back"
            print(
                f"{label:9} {pause:20} send() {send_us:6.1f} us, round trip {round_trip_us:6.1f} us"
            )


if __name__ == "__main__":
    main()
