"""``workbench bench {latency,zoo,train}``: benchmarks that print figures."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: latency stability, ours-vs-reference, training")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    lat = bsub.add_parser("latency", help="measure_latency CV over 5 calls; compare_latency self-ratio")
    lat.add_argument("--model", default="mobilenetv2_100")
    lat.add_argument("--threads", type=int)
    lat.set_defaults(func=_latency)
    zoo = bsub.add_parser("zoo", help="our models vs timm/torchvision, interleaved latency ratios")
    zoo.add_argument("pattern", nargs="?")
    zoo.add_argument("--threads", type=int)
    zoo.add_argument("--rounds", type=int, default=20)
    zoo.add_argument("--csv", help="also write the table here")
    zoo.set_defaults(func=_zoo)
    tr = bsub.add_parser("train", help="training benchmarks (Fashion-MNIST accuracy/time, fit overhead, SR)")
    tr.add_argument("which", nargs="*", help="subset of benchmarks to run (default: all)")
    tr.set_defaults(func=_train)


def _latency(args) -> int:
    from ..bench import latency_stability

    r = latency_stability(args.model, threads=args.threads)
    e = r["env"]
    print(f"measure_latency({r['model']}) x5 in one process, {e['threads']} thread(s), {e['cpu']} ({e['isa']}), torch {e['torch']}")
    print("  medians (ms): " + ", ".join(f"{m:.3f}" for m in r["medians_ms"]))
    print(f"  CV of medians: {100 * r['cv_of_medians']:.2f}%   (target <= 3%)")
    q1, q3 = r["self_ratio_iqr"]
    print(f"compare_latency(model vs itself): ratio {r['self_ratio']:.3f} (IQR {q1:.3f}-{q3:.3f})   (target 1.00 +- 0.03)")
    print(json.dumps({k: v for k, v in r.items() if k != "env"}))
    return 0


def _zoo(args) -> int:
    from ..bench import zoo_vs_reference

    df = zoo_vs_reference(args.pattern, threads=args.threads, rounds=args.rounds)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    over = df[df.ratio > 1.05]
    print(f"\n{len(df) - len(over)}/{len(df)} models at ratio <= 1.05" + (f"; over: {', '.join(over.model)}" if len(over) else ""))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


def _train(args) -> int:
    from .. import bench_train

    return bench_train.main(args.which)
