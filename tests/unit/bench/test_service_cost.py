"""The service cost bench's arithmetic: strace's table read back, what counts are divided by,
and the bench stack starting a wrapped service through `bench.profiled`."""

from __future__ import annotations

from pathlib import Path

from bench.service_cost import SERVICES, per_unit, syscalls
from bench.stack import BenchStack, Wrapper
from bench.upstream import STREAM_CHUNKS

# As `strace -f -c -o` writes it: the errors column is blank on rows without errors.
_TABLE = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 86.92    0.071897       14379         5           poll
  4.85    0.004012           6       600           write
  2.22    0.001839           0      2505         2 getpid
------ ----------- ----------- --------- --------- ----------------
100.00    0.082715          13      3110         2 total
"""


def test_syscalls_reads_each_row_and_the_total_with_or_without_errors() -> None:
    assert syscalls(_TABLE) == {"poll": 5, "write": 600, "getpid": 2505, "total": 3110}


def test_streams_count_per_stream_and_per_chunk_and_requests_per_request() -> None:
    assert per_unit(10, stream=True) == [("stream", 10), ("chunk", 10 * STREAM_CHUNKS)]
    assert per_unit(300, stream=False) == [("request", 300)]
    assert per_unit(0, stream=False) == [("request", 1)]


def test_the_router_streams_a_count_and_the_edge_for_seconds() -> None:
    stack = BenchStack(Path("unused"), stream_delay_ms=10)
    router, edge = SERVICES["router"], SERVICES["edge"]
    assert router.stream_seconds(stack, 100) == 100 * STREAM_CHUNKS * 0.01 / 5 + 0.5
    assert edge.stream_seconds(stack, 10) == 10.0


def test_a_wrapped_service_starts_through_its_wrapper_and_others_as_before() -> None:
    wrapper = Wrapper("bench.profiled", {"BENCH_PROFILE_STATS": "/tmp/x.pstats"})
    stack = BenchStack(Path("unused"), wrappers={"tollway_router": wrapper})
    args, env = stack.command(["-m", "tollway_router"], {"A": "1"})
    assert args == ["-m", "bench.profiled", "tollway_router"]
    assert env == {"A": "1", "BENCH_PROFILE_STATS": "/tmp/x.pstats"}
    assert stack.command(["-m", "tollway_edge"], {"A": "1"}) == (["-m", "tollway_edge"], {"A": "1"})
