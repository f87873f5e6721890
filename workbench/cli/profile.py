"""``workbench profile NAME``: params, MACs, memory and latency of one model."""

from __future__ import annotations

import json
import math

from . import UsageError


def register(sub) -> None:
    p = sub.add_parser("profile", help="profile one model (params, MACs, memory, latency)")
    p.add_argument("name", help="registry name, or timm:<name> / torchvision:<name>")
    p.add_argument("--width", type=float, help="width multiplier (finite, > 0)")
    p.add_argument("--resolution", type=int, help="input height = width in pixels (>= the network's total stride)")
    p.add_argument("--batch", type=int, default=1, help="batch size (>= 1; refused if its activations cannot fit in memory)")
    p.add_argument("--threads", type=int, help="intra-op threads (>= 1)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    p.add_argument("--compile", action="store_true", help="time the torch.compile'd model")
    p.add_argument("--no-latency", action="store_true", help="static counts only (fast)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _validate(args) -> None:
    # `not > 0` also refuses NaN; isfinite refuses inf (which overflowed deep in the builder).
    if args.width is not None and not (math.isfinite(args.width) and args.width > 0):
        raise UsageError(f"--width must be > 0 and finite, got {args.width}")
    if args.resolution is not None and args.resolution <= 0:
        raise UsageError(f"--resolution must be a positive number of pixels, got {args.resolution}")
    if args.batch < 1:
        raise UsageError(f"--batch must be >= 1, got {args.batch}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be >= 1, got {args.threads}")


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def run(args) -> int:
    _validate(args)
    from ..measure import profile
    from ..measure.memory import check_batch_memory
    from ..measure.stride import check_resolution
    from ..models import MODELS, create_model

    if ":" not in args.name and args.name not in MODELS:
        raise UsageError(MODELS.unknown_message(args.name))
    try:
        model = create_model(args.name, width_mult=args.width)
    except (RuntimeError, MemoryError, OverflowError) as e:
        raise UsageError(f"cannot build {args.name} (width {args.width}): {_first_line(e)}") from None
    c, h, w = model.default_input_size
    if args.resolution:
        h = w = args.resolution
    try:
        check_resolution(model, (c, h, w), name=args.name)
        check_batch_memory(model, (c, h, w), args.batch)
        row = profile(
            model,
            (c, h, w),
            latency=not args.no_latency,
            batch_size=args.batch,
            threads=args.threads,
            channels_last=args.channels_last,
            backend="compile" if args.compile else "eager",
        )
    except ValueError as e:
        raise UsageError(str(e).strip().splitlines()[0]) from None
    except (RuntimeError, MemoryError) as e:  # out of memory, or a shape this net cannot take
        raise UsageError(f"profiling {args.name} at {c}x{h}x{w}, batch {args.batch} failed: {_first_line(e)}") from None
    d = row.to_dict()
    out = {
        "name": args.name,
        "input_size": d["input_size"],
        "params": d["params"],
        "macs": d["macs"],
        "macs_all_ops": d["macs_all_ops"],
        "flops": d["flops"],
        "param_bytes": d["param_bytes"],
        "peak_activation_bytes": d["peak_activation_bytes"],
        "latency_ms": None if math.isnan(d["latency_ms"]) else d["latency_ms"],
        "latency_iqr_ms": None if math.isnan(d["latency_iqr_ms"]) else d["latency_iqr_ms"],
        "latency_cv": None if math.isnan(d["latency_cv"]) else d["latency_cv"],
        "achieved_gflops": None if math.isnan(d["achieved_gflops"]) else d["achieved_gflops"],
        "pct_of_peak": None if math.isnan(d["pct_of_peak"]) else d["pct_of_peak"],
        "unsupported_ops": d["unsupported_ops"],
        "env": d["env"] or None,
        "conventions": "macs = multiply-accumulates of conv/linear/matmul (BN folded); flops = 2 x macs",
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.name}  input {'x'.join(map(str, out['input_size']))}")
    print(f"  params            {out['params']:>16,}")
    print(f"  MACs              {out['macs']:>16,}  ({out['macs'] / 1e6:,.1f} M; FLOPs = 2 x MACs = {out['flops'] / 1e6:,.1f} M)")
    print(f"  MACs, all ops     {out['macs_all_ops']:>16,}  (+ elementwise, norm, pool, softmax)")
    print(f"  param memory      {out['param_bytes'] / 2**20:>14.2f} MiB")
    print(f"  peak activations  {out['peak_activation_bytes'] / 2**20:>14.2f} MiB")
    if out["latency_ms"] is not None:
        e = out["env"]
        print(f"  latency (median)  {out['latency_ms']:>14.3f} ms  IQR {out['latency_iqr_ms']:.3f} ms, CV {100 * out['latency_cv']:.1f}%")
        print(f"  achieved          {out['achieved_gflops']:>14.2f} GFLOP/s = {out['pct_of_peak']:.1f}% of measured GEMM peak")
        print(f"  environment       torch {e['torch']}, {e['cpu']} ({e['isa']}), {e['threads']} thread(s)")
    if out["unsupported_ops"]:
        print(f"  UNSUPPORTED ops (not counted): {out['unsupported_ops']}")
    return 0
