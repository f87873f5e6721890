"""Training figures: loss/accuracy curves per epoch and the confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

__all__ = ["training_curves", "confusion_matrix"]


def training_curves(histories, *, title: str | None = None) -> go.Figure:
    """Loss (left) and accuracy or PSNR (right) per epoch; train solid, test dashed.

    Args:
        histories: a ``History`` / ``SRHistory`` (anything with ``to_frame()``), or a mapping
            ``{run name: history}`` to overlay runs in distinct colours.
        title: figure title.

    Returns:
        A two-panel plotly Figure. For SR histories the right panel is eval-set PSNR (dB) with the
        bicubic baseline dotted.
    """
    runs = dict(histories) if isinstance(histories, Mapping) else {"": histories}
    if not runs:
        raise ValueError("training_curves needs at least one history")
    frames = {name: h.to_frame() for name, h in runs.items()}
    is_sr = all("psnr" in f for f in frames.values())
    right = "PSNR (dB, Y)" if is_sr else "accuracy (%)"
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", right))
    colors = qualitative.Plotly
    # (column, panel, legend suffix, dash, show in legend): the right panel reuses the left's legend
    if is_sr:
        lines = [("train_loss", 1, "train", None, True), ("psnr", 2, "eval PSNR", None, False),
                 ("bicubic_psnr", 2, "bicubic", "dot", True)]  # fmt: skip
    else:
        lines = [("train_loss", 1, "train", None, True), ("test_loss", 1, "test", "dash", True),
                 ("train_acc", 2, "train", None, False), ("test_acc", 2, "test", "dash", False)]  # fmt: skip
    for i, (name, f) in enumerate(frames.items()):
        color = colors[i % len(colors)]
        for col_name, panel, suffix, dash, show in lines:
            trace = go.Scatter(
                x=f["epoch"], y=f[col_name], name=f"{name} {suffix}".strip(), mode="lines+markers",
                line=dict(color=color, dash=dash), legendgroup=name, showlegend=show,
            )  # fmt: skip
            fig.add_trace(trace, row=1, col=panel)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(title_text="loss per image", row=1, col=1)
    fig.update_yaxes(title_text=right, row=1, col=2)
    fig.update_layout(title=title, template="plotly_white", legend=dict(orientation="h", y=-0.2))
    return fig


def confusion_matrix(
    result,
    class_names: Sequence[str] | None = None,
    *,
    normalize: bool = True,
    title: str | None = None,
) -> go.Figure:
    """Heatmap of an ``EvalResult`` confusion matrix (rows: true class, columns: predicted).

    Args:
        result: an ``EvalResult`` (or a (C, C) count array).
        class_names: axis labels (default: the result's).
        normalize: show row percentages (each true class sums to 100 %); hover always shows counts.
        title: figure title (default: the accuracy).
    """
    counts = np.asarray(getattr(result, "confusion", result))
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {counts.shape}")
    names = list(class_names or getattr(result, "class_names", None) or range(len(counts)))
    names = [str(n) for n in names]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = 100.0 * counts / counts.sum(1, keepdims=True) if normalize else counts
    fig = go.Figure(
        go.Heatmap(
            z=z, x=names, y=names, customdata=counts, colorscale="Blues",
            text=np.vectorize(lambda v: f"{v:.0f}")(np.nan_to_num(z)), texttemplate="%{text}",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} images<extra></extra>",
            colorbar=dict(title="% of true class" if normalize else "images"),
        )
    )  # fmt: skip
    acc = getattr(result, "accuracy", None)
    fig.update_layout(
        title=title or (f"confusion matrix (accuracy {acc:.2f} %)" if acc is not None else "confusion matrix"),
        xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed", template="plotly_white",
    )  # fmt: skip
    return fig
