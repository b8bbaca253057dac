#!/usr/bin/env python3
"""Inference throughput of an ONNX model under Python onnxruntime (CPU).

The counterpart of the Rust benchmark `shared/engine/benches/ort_inference.rs`, which runs this
script on the same model file with the same thread count, batch sizes and timing method, so the
two numbers are comparable.

Usage: bench_ort.py MODEL --threads N [--batches 1,32] [--reps 7] [--min-seconds 0.3] [--serve]

Without --serve it measures every batch size and prints one JSON object. With --serve it reads
one batch size per line on stdin and answers each with one JSON line holding a single
repetition's images/s; the Rust benchmark uses this to interleave Rust and Python repetitions,
so load from other processes on a shared machine hits both sides alike.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def make_feed(session, input_name, batch, shape):
    """Input of `batch` images, after 3 warm-up runs (the first runs allocate buffers)."""
    data = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    feed = {input_name: data}
    for _ in range(3):
        session.run(None, feed)
    return feed


def repetition(session, feed, batch, min_seconds):
    """Images/s of whole-batch runs repeated for at least min_seconds."""
    runs = 0
    start = time.perf_counter()
    while True:
        session.run(None, feed)
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return runs * batch / elapsed


def serve(session, input_name, shape, min_seconds):
    feeds = {}
    for line in sys.stdin:
        batch = int(line)
        if batch not in feeds:
            feeds[batch] = make_feed(session, input_name, batch, shape)
        rate = repetition(session, feeds[batch], batch, min_seconds)
        print(json.dumps({"batch": batch, "images_per_s": rate}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batches", default="1,32")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--min-seconds", type=float, default=0.3)
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    model_input = session.get_inputs()[0]
    # Every dimension after the batch must be fixed for a benchmark input.
    shape = [int(d) for d in model_input.shape[1:]]

    if args.serve:
        print(json.dumps({"onnxruntime": ort.__version__}), flush=True)
        serve(session, model_input.name, shape, args.min_seconds)
        return

    results = []
    for batch in (int(b) for b in args.batches.split(",")):
        feed = make_feed(session, model_input.name, batch, shape)
        rates = [repetition(session, feed, batch, args.min_seconds) for _ in range(args.reps)]
        results.append({"batch": batch, "images_per_s": statistics.median(rates), "reps": rates})
    print(json.dumps({"onnxruntime": ort.__version__, "threads": args.threads, "results": results}))


if __name__ == "__main__":
    main()
