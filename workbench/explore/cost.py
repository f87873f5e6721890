"""Cost explorer: move width, resolution, kernel and expansion; watch params, MACs, memory, latency.

The explorer counts one configuration at a time -- params and MACs with the counting cache of
:func:`workbench.measure.count_model` (registry models) or :func:`workbench.count_macs`
(blocks), peak activation memory with :func:`workbench.measure_memory` -- and keeps every
configuration it has seen in memory, so moving a slider back costs a dictionary look-up.
Latency is *predicted* from the machine's latency lookup table
(:class:`workbench.search.LatencyPredictor`, method ``"lut"``) when one is cached for this
machine, and *measured* only on demand (the "measure latency" button), because a measurement
takes a second and is distorted by whatever else the machine runs.

The plot shows each cost as a ratio to the configuration the explorer started from (1.0 = start),
with the absolute value written on the bar: a width multiplier of 0.5 shows MACs at about 0.25x.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from torch import nn

from ..layers.conv import make_divisible
from ..layers.mobile_cnn import DepthwiseSeparableConv, FusedMBConv, InvertedResidual
from ..lessons.source import show_source
from ..measure import (
    count_macs,
    count_model,
    count_params,
    measure_latency,
    measure_memory,
    num_threads,
)
from ..models import create_model, model_entry
from ._display import choices_error, is_static, new_figure, show, static_copy

# Blocks the explorer can build alone: the mobile blocks whose kernel and expansion matter most.
BLOCKS: dict[str, type[nn.Module]] = {
    "inverted_residual": InvertedResidual,
    "fused_mbconv": FusedMBConv,
    "dwsep": DepthwiseSeparableConv,
}
BLOCK_CHANNELS = 32  # a block's channels at width multiplier 1 (a stage-2 MobileNet width)
BLOCK_RESOLUTIONS = (7, 14, 28, 56, 112)  # feature-map sizes a block meets in a 224 px network
BLOCK_RESOLUTION = 56

# knob -> (label, values offered). A model gets the knobs its create_model entry accepts by name.
KNOBS: dict[str, tuple[str, tuple]] = {
    "width_mult": ("width multiplier", (0.25, 0.35, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)),
    "depth_mult": ("depth multiplier", (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)),
    "kernel_size": ("kernel size", (3, 5, 7, 9, 11, 13)),
    "exp_ratio": ("expansion", (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)),
}
RESOLUTION_SCALES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5)
METRICS = ("params", "MACs", "activation memory", "latency (predicted)")


@dataclass(frozen=True)
class Costs:
    """Costs of one configuration.

    Attributes:
        params: parameters.
        macs: multiply-accumulates of one image (BN folded; ``flops = 2 * macs``).
        activation_bytes: peak live activation bytes of one eval forward (input included).
        input_size: ``(C, H, W)`` counted.
        predicted_ms: predicted latency (ms, batch 1) from the lookup table, or ``None``.
    """

    params: int
    macs: int
    activation_bytes: int
    input_size: tuple[int, int, int]
    predicted_ms: float | None = None

    def values(self) -> dict[str, float | None]:
        """Metric name (:data:`METRICS`) -> value in the unit shown (M, M, MB, ms)."""
        return {"params": self.params / 1e6, "MACs": self.macs / 1e6,
                "activation memory": self.activation_bytes / 2**20, "latency (predicted)": self.predicted_ms}  # fmt: skip


def _si(value: float) -> str:
    """``4350 -> '4.35 k'``, ``12.3e6 -> '12.3 M'``: counts at a glance."""
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}"
    return f"{value:.3g}"


def _resolutions(size: int) -> tuple[int, ...]:
    """Input sizes around ``size`` (multiples of 4, at least 8), ``size`` itself included."""
    return tuple(sorted({size, *(max(8, round(size * s / 4) * 4) for s in RESOLUTION_SCALES)}))


def _with(values: Sequence, default) -> tuple:
    return tuple(sorted({*values, default}))


def _auto_predictor(threads: int):
    """The ``"lut"`` predictor on this machine's cached table, or ``None`` when none is cached."""
    from ..search import LatencyPredictor, LatencyTable

    table = LatencyTable.load(threads)
    return LatencyPredictor("lut", table) if table is not None and len(table) else None


def _default_measure(model: nn.Module, input_size: tuple[int, ...], threads: int) -> float:
    # short: an on-demand reading, not a benchmark (the notebooks compare interleaved ratios)
    return measure_latency(model, input_size, threads=threads, samples=10, sample_ms=20.0, warmup_s=0.2).median_ms


class CostExplorer:
    """Sliders over a model's (or block's) shape and the costs they produce.

    Args:
        model: a registry name (``"mobilenetv2_050"``); exclusive with ``block``.
        block: one of :data:`BLOCKS`; exclusive with ``model``.
        vary: knobs to offer (subset of :data:`KNOBS`); default every knob the model's entry
            function names in its signature (a block: all that it takes). Resolution is always offered.
        predictor: a fitted or unfitted :class:`~workbench.search.LatencyPredictor`, ``None``
            (no latency bar), or ``"auto"`` (the cached lookup table of this machine, if any).
        live: build ipywidgets and a ``FigureWidget``; ``False`` builds only the figure.
        threads: threads of the latency prediction and measurement.
        measure_fn: ``measure_fn(model, input_size, threads) -> ms`` for the button (tests pass
            a fake one); default a short :func:`workbench.measure_latency` of the deploy form.
        **fixed: further ``create_model`` keyword arguments kept fixed (their values also
            become a knob's starting value).

    Raises:
        ValueError: neither or both of ``model``/``block``, an unknown block or knob.
        KeyError: an unknown model name.
    """

    def __init__(self, model: str | None = None, *, block: str | None = None, vary: Sequence[str] | None = None,
                 predictor="auto", live: bool = False, threads: int = 1,
                 measure_fn: Callable[[nn.Module, tuple, int], float] | None = None, **fixed) -> None:  # fmt: skip
        if (model is None) == (block is None):
            raise ValueError("pass exactly one of model='<registry name>' or block='<block name>'")
        if block is not None and block not in BLOCKS:
            raise choices_error("block", block, BLOCKS)
        self.model, self.block, self.threads, self.fixed = model, block, threads, dict(fixed)
        self.measure_fn = measure_fn or _default_measure
        self.knobs = self._knobs(vary)  # name -> (label, values, start)
        self.start = {k: v[2] for k, v in self.knobs.items()}
        self.config = dict(self.start)
        self.predictor = _auto_predictor(threads) if predictor == "auto" else predictor
        self._cache: dict[tuple, Costs] = {}
        self.measured: dict[tuple, float] = {}
        self.base = self.costs(self.start)
        self.figure = new_figure(live)
        self._draw(self.base)
        self.widget = self._widgets() if live else None

    # -- configuration ----------------------------------------------------------------------
    def _knobs(self, vary) -> dict[str, tuple[str, tuple, object]]:
        if self.block is not None:
            params = inspect.signature(BLOCKS[self.block]).parameters
            defaults = {"width_mult": 1.0, **{k: p.default for k, p in params.items()}}
            accepted = {"width_mult", *params}
            size = int(self.fixed.pop("resolution", BLOCK_RESOLUTION))
            res_values, res_start = _with(BLOCK_RESOLUTIONS, size), size
        else:
            entry = model_entry(self.model)
            params = inspect.signature(entry.fn).parameters
            defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
            accepted = set(params)
            size = int(self.fixed.pop("resolution", entry.default_input_size[-1]))
            res_values, res_start = _with(_resolutions(int(entry.default_input_size[-1])), size), size
        if vary is None:
            names = [k for k in KNOBS if k in accepted and defaults.get(k) is not None]
        else:
            names = list(vary)
            for k in names:
                if k not in KNOBS:
                    raise choices_error("knob", k, KNOBS)
        knobs = {}
        for k in names:
            label, values = KNOBS[k]
            start = self.fixed.pop(k, defaults.get(k))
            if start is None:  # an entry whose default means "the paper's value": start at 1x / the middle
                start = 1.0 if k.endswith("_mult") else values[len(values) // 2]
            knobs[k] = (label, _with(values, start), start)
        knobs["resolution"] = ("resolution (px)", res_values, res_start)
        return knobs

    def _key(self, config: dict) -> tuple:
        return tuple(sorted(config.items()))

    def build(self, config: dict | None = None) -> tuple[nn.Module, tuple[int, int, int]]:
        """The module of ``config`` (default the current one) and its ``(C, H, W)`` input."""
        config = dict(self.config if config is None else config)
        res = int(config.pop("resolution"))
        if self.block is not None:
            chs = make_divisible(BLOCK_CHANNELS * config.pop("width_mult", 1.0))
            return BLOCKS[self.block](chs, chs, **config, **self.fixed).eval(), (chs, res, res)
        model = create_model(self.model, **config, **self.fixed).eval()
        return model, (int(model_entry(self.model).default_input_size[0]), res, res)

    def costs(self, config: dict | None = None) -> Costs:
        """Costs of ``config`` (default the current one), counted once per configuration."""
        config = dict(self.config if config is None else config)
        key = self._key(config)
        if key not in self._cache:
            with num_threads(self.threads):  # 2 threads on a busy 2-core machine: 30x slower
                self._cache[key] = self._count(config)
        return self._cache[key]

    def _count(self, config: dict) -> Costs:
        module, size = self.build(config)
        if self.block is None:
            kwargs = {k: v for k, v in config.items() if k != "resolution"} | self.fixed
            c = count_model(self.model, size, **kwargs)
            params, macs = c.params, c.macs
        else:
            params, macs = count_params(module).total, count_macs(module, (1, *size)).macs
        mem = measure_memory(module, size).peak_activation_bytes
        pred = None
        if self.predictor is not None:
            from ..search.predictor import model_info

            pred = float(self.predictor.predict(model_info(module, size, macs=False)))
        return Costs(int(params), int(macs), int(mem), size, pred)

    # -- figure -------------------------------------------------------------------------------
    def _title(self) -> str:
        what = self.model or f"{self.block} block ({BLOCK_CHANNELS} ch at width 1)"
        knobs = ", ".join(f"{self.knobs[k][0]} {v}" for k, v in self.config.items())
        return f"{what}: {knobs}"

    def _bars(self, c: Costs) -> tuple[list[str], list[float], list[str]]:
        names, ratios, text = [], [], []
        base = self.base.values()
        for name, value in c.values().items():
            if value is None or not base[name]:
                continue
            names.append(name)
            ratios.append(value / base[name])
            text.append({"params": _si(value * 1e6), "MACs": _si(value * 1e6),
                         "activation memory": f"{value:.3g} MB"}.get(name, f"{value:.3g} ms"))  # fmt: skip
        return names, ratios, text

    def _draw(self, c: Costs) -> None:
        names, ratios, text = self._bars(c)
        top = max([*ratios, 1.0]) * 1.25
        if not self.figure.data:
            self.figure.add_bar(x=names, y=ratios, text=text, textposition="outside",
                                marker_color="#4c78a8", name="cost / start")  # fmt: skip
            self.figure.update_layout(
                title=self._title(), yaxis_title="cost / starting configuration", yaxis_range=[0, top],
                height=380, margin={"l": 60, "r": 20, "t": 60, "b": 40}, showlegend=False,
                shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                         "line": {"dash": "dot", "color": "#888"}}],
            )  # fmt: skip
            return
        with self.figure.batch_update():  # one message to the front end, not five
            bar = self.figure.data[0]
            bar.x, bar.y, bar.text = names, ratios, text
            self.figure.layout.title.text = self._title()
            self.figure.layout.yaxis.range = [0, top]

    # -- actions ------------------------------------------------------------------------------
    def update(self, **changes) -> Costs:
        """Set knobs (``update(width_mult=0.5)``), recount and redraw in place; returns the costs.

        Raises:
            ValueError: an unknown knob or a value the knob does not offer.
        """
        for k, v in changes.items():
            if k not in self.knobs:
                raise choices_error("knob", k, self.knobs)
            if v not in self.knobs[k][1]:
                raise choices_error(f"{k} value", v, self.knobs[k][1])
        self.config.update(changes)
        c = self.costs()
        self._draw(c)
        if self.widget is not None:
            for k, v in changes.items():  # keep sliders in step when called from code
                self._sliders[k].value = v
            self._summary.value = self._summary_html(c)
        return c

    def measure(self) -> float:
        """Measure the current configuration's latency (deploy form, ms, batch 1) now."""
        from ..layers import reparameterize_model

        module, size = self.build()
        ms = float(self.measure_fn(reparameterize_model(module), size, self.threads))
        self.measured[self._key(self.config)] = ms
        if self.widget is not None:
            self._measured.value = f"measured: <b>{ms:.3g} ms</b> (batch 1, {self.threads} thread(s), deploy form)"
        return ms

    def static_figure(self) -> go.Figure:
        """The current plot as a plain ``go.Figure``."""
        return static_copy(self.figure)

    # -- widgets ------------------------------------------------------------------------------
    def _summary_html(self, c: Costs) -> str:
        pred = "no latency table cached" if c.predicted_ms is None else f"{c.predicted_ms:.3g} ms predicted"
        return (f"<b>{_si(c.params)}</b> params &middot; <b>{_si(c.macs)}</b> MACs "
                f"&middot; <b>{c.activation_bytes / 2**20:.3g} MB</b> peak activations &middot; {pred} "
                f"&middot; input {c.input_size[0]}x{c.input_size[1]}x{c.input_size[2]}")  # fmt: skip

    def _widgets(self):
        import ipywidgets as w

        self._sliders = {}
        for k, (label, values, start) in self.knobs.items():
            s = w.SelectionSlider(options=list(values), value=start, description=label,
                                  continuous_update=False, style={"description_width": "130px"},
                                  layout=w.Layout(width="420px"))  # fmt: skip
            s.add_class(f"wb-knob-{k}")
            s.observe(lambda ch, k=k: self.update(**{k: ch["new"]}), names="value")
            self._sliders[k] = s
        self._summary = w.HTML(self._summary_html(self.base))
        self._summary.add_class("wb-summary")
        button = w.Button(description="measure latency")
        button.add_class("wb-measure")
        button.on_click(lambda _: self.measure())
        self._measured = w.HTML("")
        target = BLOCKS[self.block] if self.block else model_entry(self.model).fn
        src = w.Accordion(children=[w.HTML(show_source(target)._repr_html_())])
        src.set_title(0, f"source: {target.__qualname__}")
        src.selected_index = None
        self._button, self._source = button, src
        return [w.VBox(list(self._sliders.values())), self._summary, self.figure, w.HBox([button, self._measured]), src]

    def _ipython_display_(self) -> None:
        show(self.widget, self.figure)


def cost(model: str | None = None, *, block: str | None = None, vary: Sequence[str] | None = None,
         predictor="auto", static: bool | None = None, threads: int = 1, **fixed):  # fmt: skip
    """Cost explorer of a registry model or a block (see :class:`CostExplorer` for the arguments).

    Returns:
        a live :class:`CostExplorer` (displays as sliders + plot) in a Jupyter front end, or
        the static ``go.Figure`` of the starting configuration (``static=True``, a report run,
        plain Python; see :func:`workbench.explore.is_static`).
    """
    live = not is_static(static)
    ex = CostExplorer(model, block=block, vary=vary, predictor=predictor, live=live, threads=threads, **fixed)
    return ex if live else ex.static_figure()
