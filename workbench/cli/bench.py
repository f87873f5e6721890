"""``workbench bench {latency,zoo,train,count,report}``: benchmarks that print figures (code in :mod:`workbench.bench`)."""

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
    tr = bsub.add_parser(
        "train", help="training speed: configuration -> images/s, ratio to fp32 eager, accuracy; --target: accuracy/time targets",
    )
    tr.add_argument("--model", default="reference_cnn", help="model for the configuration table")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="create_model keyword (JSON value) for --model, e.g. --set small_input=true")
    tr.add_argument("--quick", action="store_true", help="tiny blocks and schedule (< 2 min): code paths, rough ratios")
    tr.add_argument("--rounds", type=int, help="timed blocks per configuration (default 5, quick 3)")
    tr.add_argument("--no-accuracy", action="store_true", help="throughput only")
    tr.add_argument("--only", nargs="+", metavar="CONFIG", help="configurations to run (the first is the baseline)")
    tr.add_argument("--target", nargs="*", metavar="NAME",
                    help="run the accuracy/time targets instead (default: reference_cnn mobilenetv2_050; "
                         "also fit_overhead, sr_x2)")
    tr.add_argument("--recipe", help="bank recipe for --target (default: each target's own, see workbench bank recipes)")
    tr.add_argument("--threads", type=int, default=2, help="torch threads (targets assume 2)")
    tr.add_argument("--csv", help="also write the table here")
    tr.set_defaults(func=_train)
    cnt = bsub.add_parser("count", help="params + MACs of the whole zoo: cold (empty cache) and warm seconds")
    cnt.add_argument("pattern", nargs="?", help="only models matching this pattern")
    cnt.set_defaults(func=_count)
    rep = bsub.add_parser("report", help="time a report profile: cold, warm (bank filled), no-op and one-file-edit passes")
    rep.add_argument("--profile", default="smoke", help="smoke, default or full")
    rep.add_argument("--passes", nargs="+", default=["cold", "warm", "noop", "edit"], metavar="PASS",
                     help="cold (empty caches), warm (caches kept, notebooks re-executed), noop, "
                          "edit (one package file edited: only the notebooks that used it re-run)")
    rep.add_argument("--edit", default="plots/search.py", metavar="FILE",
                     help="package file the edit pass changes (default plots/search.py)")
    rep.add_argument("--jobs", type=int, help="notebooks at once (default: cores)")
    rep.add_argument("--only", nargs="+", metavar="SLUG", help="only these techniques")
    rep.add_argument("--csv", help="also write the table here")
    rep.set_defaults(func=_report)

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
    import pandas as pd

    from ..bench import train as bt

    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.target is not None:
        names = tuple(args.target) or tuple(bt.TARGETS)
        df = bt.run_all(quick=args.quick, only=names, threads=args.threads, recipe=args.recipe)
        with pd.option_context("display.width", 200, "display.max_colwidth", 80):
            print(df.drop(columns="details").to_string(index=False))
            for _, row in df.iterrows():
                print(f"{row['name']}: {row['details']}")
        if args.csv:
            df.to_csv(args.csv, index=False)
        return 0 if args.quick or bool(df["passed"].all()) else 1
    configs = None
    if args.only:
        unknown = [c for c in args.only if c not in bt.CONFIGS]
        if unknown:
            raise ValueError(f"unknown configuration {unknown[0]!r}; valid: {', '.join(bt.CONFIGS)}")
        configs = {c: bt.CONFIGS[c] for c in args.only}
    kw = dict(bt.QUICK_CONFIGS) if args.quick else {}
    if args.rounds is not None:
        kw["rounds"] = args.rounds
    from .bank import _kwargs

    df = bt.train_configs(args.model, configs=configs, accuracy=not args.no_accuracy, threads=args.threads,
                          progress=True, **kw, **_kwargs(args.set))  # fmt: skip
    a = df.attrs
    print(f"{a['model']}: {a['rounds']} interleaved rounds of {a['images_per_block']} images per configuration, "
          f"{a['threads']} thread(s); ratio = median of per-round images/s ratios to {a['baseline']!r}; "
          f"accuracy after {a['acc_schedule']}")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0


def _count(args) -> int:
    from ..bench import count_benchmark
    from ..models import list_models

    r = count_benchmark(list_models(args.pattern) if args.pattern else None)
    print(f"params + MACs of {r['models']} zoo models (fvcore tracing, counting cache)")
    print(f"  cold (empty cache): {r['cold_s']:7.1f} s   (target <= {r['cold_target_s']:.0f} s)")
    print(f"  warm (cache hits):  {r['warm_s']:7.2f} s   (target <= {r['warm_target_s']:.0f} s)")
    return 0


def _report(args) -> int:
    from ..bench import report_benchmark

    if args.jobs is not None and args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    df = report_benchmark(args.profile, passes=args.passes, jobs=args.jobs, only=args.only, progress=True,
                          edit=args.edit)
    print(f"\nworkbench report --profile {args.profile}: seconds per step and pass")
    table = df.pivot_table(index="step", columns="pass", values="seconds", sort=False)
    print(table[[p for p in args.passes if p in table.columns]].to_string(float_format=lambda v: f"{v:.1f}"))
    budgets = df.attrs["budgets"]
    if budgets:
        print("budgets (s): " + ", ".join(f"{k} <= {v:.0f}" for k, v in budgets.items()))
    if args.csv:
        df.to_csv(args.csv, index=False)
    return 0 if (df[df.step == "total"].status == "ok").all() else 1
