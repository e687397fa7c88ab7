"""A ring all-reduce between worker processes over TCP, printed in nccl-tests' all_reduce_perf format.

Each rank is a process holding float32 data; reduce-scatter then all-gather pass chunks to the
next rank over real sockets, so packet loss or a throttled link (iptables, tc) shows in the times.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import struct
import sys
import threading
import time

import numpy as np

HEADER = "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong"
UNITS = "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)"


def _recv_exact(conn, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        chunk = conn.recv_into(view[got:], n - got)
        if chunk == 0:
            raise ConnectionError("NCCL WARN Net : Connection closed by remote peer")
        got += chunk
    return buf


def _connect(rank, nranks, host, base_port, timeout):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, base_port + rank))
    server.listen(1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            out = socket.create_connection((host, base_port + (rank + 1) % nranks), timeout=timeout)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    server.settimeout(timeout)
    inbound, _addr = server.accept()
    server.close()
    for sock in (out, inbound):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(timeout)
    return out, inbound


def _exchange(out, inbound, payload):
    sender = threading.Thread(target=out.sendall, args=(struct.pack("!I", len(payload)) + payload,))
    sender.start()
    size = struct.unpack("!I", _recv_exact(inbound, 4))[0]
    data = _recv_exact(inbound, size)
    sender.join()
    return data


def ring_allreduce(data, rank, nranks, out, inbound):
    chunks = np.array_split(data.copy(), nranks)
    for step in range(nranks - 1):  # reduce-scatter
        send_index, recv_index = (rank - step) % nranks, (rank - step - 1) % nranks
        received = np.frombuffer(_exchange(out, inbound, chunks[send_index].tobytes()), dtype=np.float32)
        chunks[recv_index] = chunks[recv_index] + received
    for step in range(nranks - 1):  # all-gather
        send_index, recv_index = (rank - step + 1) % nranks, (rank - step) % nranks
        chunks[recv_index] = np.frombuffer(_exchange(out, inbound, chunks[send_index].tobytes()), dtype=np.float32).copy()
    return np.concatenate(chunks)


def _worker(rank, nranks, host, base_port, sizes, iters, timeout, results):
    try:
        out, inbound = _connect(rank, nranks, host, base_port, timeout)
        rows = []
        for size in sizes:
            count = max(1, size // 4)
            data = np.full(count, rank + 1, dtype=np.float32)
            expected = nranks * (nranks + 1) / 2
            timings, wrong = [], 0
            for placement in ("out_of_place", "in_place"):
                ring_allreduce(data, rank, nranks, out, inbound)  # warm-up
                started = time.perf_counter()
                for _iteration in range(iters):
                    result = ring_allreduce(data, rank, nranks, out, inbound)
                timings.append((time.perf_counter() - started) / iters)
                wrong_here = int(np.count_nonzero(result != expected))
                wrong = wrong_here if placement == "out_of_place" else wrong
                timings.append(wrong_here)
            rows.append((size, count, timings))
        results.put((rank, rows, None))
        out.close()
        inbound.close()
    except Exception as exc:  # reported by rank 0 in nccl-tests' failure format
        results.put((rank, None, f"{socket.gethostname()}: Test NCCL failure common.cu:1 'unhandled system error' ({exc})"))


def run(nranks, min_bytes, max_bytes, iters, host, base_port, timeout, stream):
    sizes = []
    size = min_bytes
    while size <= max_bytes:
        sizes.append(size)
        size *= 2
    print(
        f"# nThread 1 nGpus 1 minBytes {min_bytes} maxBytes {max_bytes} step: 2(factor) warmup iters: 1 iters: {iters} agg iters: 1 validation: 1 graph: 0",
        file=stream,
    )
    print("#\n# Using devices", file=stream)
    for rank in range(nranks):
        print(
            f"#  Rank {rank:2d} Group  0 Pid {os.getpid():6d} on {socket.gethostname():>10} device {rank:2d} [0x{rank:02x}] Simulated Live Avatar GPU",
            file=stream,
        )
    print("#\n#                                                              out-of-place                       in-place", file=stream)
    print(HEADER + "\n" + UNITS, file=stream, flush=True)
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, nranks, host, base_port, sizes, iters, timeout, results)) for r in range(nranks)]
    for proc in procs:
        proc.start()
    collected = {}
    for _rank in range(nranks):
        rank, rows, error = results.get(timeout=timeout * (len(sizes) + 2) * iters)
        collected[rank] = (rows, error)
    for proc in procs:
        proc.join()
    errors = [e for _rows, e in collected.values() if e]
    if errors:
        print(errors[0], file=stream)
        print(f" .. {socket.gethostname()} pid {os.getpid()}: Test failure common.cu:2", file=stream, flush=True)
        return 1
    factor = 2 * (nranks - 1) / nranks
    busbws = []
    for index, size in enumerate(sizes):
        # The slowest rank decides the collective's time, as in nccl-tests.
        oop = max(collected[r][0][index][2][0] for r in range(nranks))
        inp = max(collected[r][0][index][2][2] for r in range(nranks))
        wrong_oop = sum(collected[r][0][index][2][1] for r in range(nranks))
        wrong_inp = sum(collected[r][0][index][2][3] for r in range(nranks))
        count = collected[0][0][index][1]
        cells = []
        for seconds, wrong in ((oop, wrong_oop), (inp, wrong_inp)):
            algbw = size / seconds / 1e9
            busbws.append(algbw * factor)
            cells.append(f"{seconds * 1e6:8.2f} {algbw:7.2f} {algbw * factor:7.2f} {wrong:6d}")
        print(f"{size:12d}  {count:12d}     float     sum      -1 {cells[0]} {cells[1]}", file=stream)
    print("# Out of bounds values : 0 OK", file=stream)
    print(f"# Avg bus bandwidth    : {sum(busbws) / len(busbws):.4f}", file=stream)
    print("#", file=stream, flush=True)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="all_reduce_perf", description="Simulated GPUs: a TCP ring all-reduce in nccl-tests format")
    p.add_argument("-g", "--ngpus", type=int, default=int(os.environ.get("SIM_GPU_COUNT", "4")))
    p.add_argument("-b", "--minbytes", default="8")
    p.add_argument("-e", "--maxbytes", default="8M")
    p.add_argument("-n", "--iters", type=int, default=5)
    p.add_argument("--host", default=os.environ.get("MASTER_ADDR", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("MASTER_PORT", "29500")))
    p.add_argument("--timeout", type=float, default=20.0)
    args = p.parse_args(argv)
    units = {"K": 1024, "M": 1024**2, "G": 1024**3}

    def parse(text):
        return int(text[:-1]) * units[text[-1].upper()] if text[-1].upper() in units else int(text)

    return run(args.ngpus, parse(args.minbytes), parse(args.maxbytes), args.iters, args.host, args.port, args.timeout, sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
