"""MKL's SGEMM, timed through PyTorch, for `npm run bench -- ops --mkl`.

PyTorch's CPU wheels carry MKL linked in, so torch.mm on float32 CPU tensors is MKL's
cblas_sgemm (row-major C = A @ B, no transposes, beta 0): the same call our bench times.

Modes:
  --serve        read one JSON request per line on stdin, answer one JSON line on stdout:
                 {"M":..,"N":..,"K":..,"minSeconds":..} -> {"seconds": best}
                 (a persistent process, so the bench can alternate ours and MKL shape by shape
                 without paying PyTorch's import each time)
  --probe        one small product with MKL_VERBOSE=1 set by the caller: MKL prints its
                 version and the instruction set it dispatched to (the bench reads that line)
  --M --N --K    time one shape and print {"seconds": best}

--threads N: torch.set_num_threads(N) (MKL's threads) and one inter-op thread.
MKL_ENABLE_INSTRUCTIONS=AVX2 in the environment restricts MKL to its AVX2 code path.
"""
import argparse
import json
import sys
import time

import torch


def make(M, N, K):
    g = torch.Generator().manual_seed(1)
    a = torch.rand(M, K, generator=g) * 2 - 1
    b = torch.rand(K, N, generator=g) * 2 - 1
    c = torch.empty(M, N)
    return a, b, c


def best_seconds(M, N, K, min_seconds):
    a, b, c = make(M, N, K)
    torch.mm(a, b, out=c)  # warm-up: MKL's dispatch and thread start
    best = float("inf")
    start = time.perf_counter()
    i = 0
    while i < 3 or (time.perf_counter() - start < min_seconds and i < 100000):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
        i += 1
    return best


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--serve", action="store_true")
    p.add_argument("--probe", action="store_true")
    p.add_argument("--M", type=int)
    p.add_argument("--N", type=int)
    p.add_argument("--K", type=int)
    p.add_argument("--min-seconds", type=float, default=0.4)
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if args.probe:
        a, b, c = make(64, 64, 64)
        torch.mm(a, b, out=c)
        sys.stdout.flush()
        print(json.dumps({"torch": torch.__version__, "mkl": torch.backends.mkl.is_available(),
                          "threads": torch.get_num_threads()}), flush=True)
        return
    if args.serve:
        print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            s = best_seconds(r["M"], r["N"], r["K"], r.get("minSeconds", 0.4))
            print(json.dumps({"seconds": s}), flush=True)
        return
    s = best_seconds(args.M, args.N, args.K, args.min_seconds)
    print(json.dumps({"seconds": s, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
