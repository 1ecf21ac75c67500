"""CrypTen's 2-party secure inference of an ONNX model, the peer of `patchwork bench model` in
`benches/crypten_side_by_side.sh` (issue 23). Runs in a venv of its own (CrypTen 0.4.1 needs
torch 1.13.1, numpy < 2, onnx 1.13.1, protobuf 3.20.3; the script that calls this makes it).

Two processes on this machine (crypten.mpc.run_multiprocess, gloo over loopback), one thread
each, CrypTen's default trusted-first-party provider (the multiplication triples and comparison
masks are made by party 0 locally, which is CrypTen's TFP mode, not a third server). Party 1
holds the model (`encrypt(src=1)`), party 0 the image and the result, as in Patchwork.
Inferences 1..REPEAT of one session are timed one by one, from sharing the input to party 0's
revealed output; the communication counters are CrypTen's own (each party counts what its
collectives move, so the total is half their sum, as CrypTen's documentation says).

Usage: python crypten_inference.py MODEL.onnx INPUT.npy REPEAT OUT.json
"""

import json
import sys
import time

import numpy as np
import torch

import crypten
import crypten.communicator as comm
from crypten.config import cfg


def party(path, input_path, repeat):
    torch.set_num_threads(1)
    cfg.communicator.verbose = True
    rank = comm.get().get_rank()
    with open(path, "rb") as f:
        model = crypten.nn.from_onnx(f)
    model.encrypt(src=1)
    model.eval()
    x = torch.from_numpy(np.load(input_path).astype(np.float32))
    if rank != 0:
        x = torch.zeros_like(x)  # party 1 does not see the image: only its shape
    runs = []
    out = None
    for _ in range(repeat):
        comm.get().reset_communication_stats()
        start = time.perf_counter()
        y = model(crypten.cryptensor(x, src=0))
        out = y.get_plain_text(dst=0)
        runs.append({"seconds": time.perf_counter() - start, **comm.get().get_communication_stats()})
    return {"rank": rank, "runs": runs, "output": out.flatten().tolist() if rank == 0 else None}


def main():
    path, input_path, repeat, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    crypten.init()
    run = crypten.mpc.run_multiprocess(world_size=2)(party)
    results = run(path, input_path, repeat)
    if results is None:
        sys.exit("a CrypTen party failed (its log is above)")
    p0 = next(r for r in results if r["rank"] == 0)
    p1 = next(r for r in results if r["rank"] == 1)
    runs = [
        {"seconds": max(a["seconds"], b["seconds"]), "rounds": a["rounds"],
         "bytes": (a["bytes"] + b["bytes"]) / 2}
        for a, b in zip(p0["runs"], p1["runs"])
    ]
    with open(out_path, "w") as f:
        json.dump({"torch": torch.__version__, "runs": runs, "output": p0["output"]}, f)


if __name__ == "__main__":
    main()
