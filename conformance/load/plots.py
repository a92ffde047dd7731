"""PNG plots of a load run (matplotlib figures on an Agg canvas, without pyplot: no display, no GUI toolkit).

* ``latency.png``: FETCH and RENEW p50 / p95 / p99 over time, from Locust's
  ``_stats_history.csv`` (``--csv-full-history``: per-row, 10-second window
  percentiles) on a log axis, with the p95 objective as a line.
* ``rate.png``: requests per second over time: the exact per-second counts of
  FETCH and RENEW (from the summary: renewal waves stay sharp), Locust's
  smoothed rate from the history, and the user count.
* ``renewal_leads.png``: how long before the old token's expiry each renewal
  landed; anything at or below zero was a dropped session.

Each function writes its PNG even without data (saying so on the figure), so
the report never links to a missing image.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ..report.baseline import LOAD_SECTIONS, PERCENTILE_KEYS, throughput
from .protocol import FETCH, RENEW

REQUEST_TYPES_PLOTTED = (FETCH, RENEW)
COLOURS = {FETCH: "tab:blue", RENEW: "tab:orange"}
PERCENTILE_LINES = (("50%", ":"), ("95%", "-"), ("99%", "--"))


@dataclass
class History:
    """The FETCH / RENEW rows of a stats-history CSV as series over seconds since the first row."""

    t: dict[str, list[float]] = field(default_factory=dict)
    series: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    users: list[tuple[float, int]] = field(default_factory=list)

    def empty(self) -> bool:
        return not any(self.t.values())


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def read_history(path: Path, origin: float | None = None) -> History:
    """Parse ``<prefix>_stats_history.csv``; a missing or empty file gives an empty History.

    Times are seconds since ``origin`` (unix time; default: the first row), so
    they line up with the per-second counts of the rate plot.
    """
    history = History()
    if not path.is_file():
        return history
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    stamps = [_num(r.get("Timestamp")) for r in rows]
    start = origin if origin is not None else min((s for s in stamps if s is not None), default=0.0)
    seen_users: dict[float, int] = {}
    for row, stamp in zip(rows, stamps, strict=True):
        if stamp is None:
            continue
        t = stamp - start
        users = _num(row.get("User Count"))
        if users is not None:
            seen_users[t] = int(users)
        kind = row.get("Type", "")
        if kind not in REQUEST_TYPES_PLOTTED:
            continue
        history.t.setdefault(kind, []).append(t)
        cols = history.series.setdefault(kind, {})
        for column in ("50%", "95%", "99%", "Requests/s", "Failures/s"):
            value = _num(row.get(column))
            if column.endswith("%") and not value:
                value = None  # Locust writes 0 while its 10 s percentile window is still empty
            cols.setdefault(column, []).append(value)
    history.users = sorted(seen_users.items())
    return history


def _agg_figure(**kwargs: Any) -> Figure:
    """A figure on its own Agg canvas: matplotlib's way for a program without a display (no pyplot, no backend
    switched for the whole process)."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _figure() -> tuple[Figure, Any]:
    fig = _agg_figure(figsize=(11, 4.2), dpi=100)
    return fig, fig.subplots()


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png", bbox_inches="tight")  # "tight": the legend outside the axes is kept
    return path


def _legend_outside(ax: Any, handles: Any = None, labels: Any = None) -> None:
    """The legend to the right of the axes, never over the data (a legend inside hid the breach it names)."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  frameon=False)


def _no_data(ax: Any, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def latency_plot(history: History, path: Path, max_p95_ms: float | None = None) -> Path:
    fig, ax = _figure()
    ax.set_title("Response time percentiles (10 s window)")
    if history.empty():
        _no_data(ax, "requests")
        return _save(fig, path)
    for kind in REQUEST_TYPES_PLOTTED:
        t = history.t.get(kind, [])
        for column, style in PERCENTILE_LINES:
            values = history.series.get(kind, {}).get(column, [])
            points = [(x, y) for x, y in zip(t, values, strict=True) if y is not None]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, color=COLOURS[kind], label=f"{kind} p{column.rstrip('%')}")
    # A log axis: a healthy 5-15 ms run and a 500 ms objective both stay readable.
    ax.set_yscale("log")
    seen = [v for cols in history.series.values() for c, _ in PERCENTILE_LINES for v in cols.get(c, []) if v]
    low = min(seen, default=1.0)
    high = max(seen, default=1.0)
    if max_p95_ms is not None:
        ax.axhline(max_p95_ms, color="red", linewidth=1.2, alpha=0.8, label=f"p95 objective {max_p95_ms:g} ms")
        high = max(high, max_p95_ms)
    ax.set_ylim(max(low / 1.5, 0.1), high * 1.6)
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("ms (log scale)")
    ax.grid(alpha=0.3, which="both")
    _legend_outside(ax)
    return _save(fig, path)


def rate_plot(
    history: History, per_second: Mapping[str, Mapping[str, int]], path: Path, origin: float | None = None,
    *, targets: Sequence[tuple[float, float, float]] | None = None,
) -> Path:
    """``per_second``: {kind: {unix second (as text): count}} from the summary rows; times since ``origin``.

    ``targets`` (capacity): (start s, end s, target requests/s) per step, drawn as the offered rate; then there
    is no users axis (one arrival loop per process: a user count means nothing there)."""
    fig, ax = _figure()
    ax.set_title("Request rate")
    stamps = [int(s) for counts in per_second.values() for s in counts]
    if not stamps and history.empty():
        _no_data(ax, "requests")
        return _save(fig, path)
    start = int(origin) if origin is not None else (min(stamps) if stamps else 0)
    bottom: dict[int, int] = {}
    for kind in REQUEST_TYPES_PLOTTED:
        counts = {int(s) - start: n for s, n in per_second.get(kind, {}).items()}
        if counts:
            xs = sorted(counts)
            ax.bar(
                xs,
                [counts[x] for x in xs],
                width=0.9,
                bottom=[bottom.get(x, 0) for x in xs],
                color=COLOURS[kind],
                alpha=0.6,
                label=f"{kind} per second",
            )
            for x in xs:
                bottom[x] = bottom.get(x, 0) + counts[x]
    for kind in REQUEST_TYPES_PLOTTED:
        rate = history.series.get(kind, {}).get("Requests/s", [])
        points = [(x, y) for x, y in zip(history.t.get(kind, []), rate, strict=True) if y is not None]
        if points:
            xs_f, ys_f = zip(*points, strict=True)
            ax.plot(xs_f, ys_f, "--", color=COLOURS[kind], linewidth=1, label=f"{kind} (Locust's 10 s average)")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("requests / s")
    ax.grid(alpha=0.3)
    if targets:
        for i, (begin, end, target) in enumerate(targets):  # one segment per step: a pause between is a gap
            ax.plot([begin, end], [target, target], "-", color="black", linewidth=1.5,
                    label="target rate (each step)" if i == 0 else None)
    handles, labels = ax.get_legend_handles_labels()
    if history.users and not targets:
        twin = ax.twinx()
        (line,) = twin.step(
            [u[0] for u in history.users], [u[1] for u in history.users], where="post", color="grey", alpha=0.6
        )
        twin.set_ylabel("users", color="grey")
        twin.set_ylim(bottom=0)
        handles.append(line)
        labels.append("users (right axis)")
    if history.users and not targets:
        # the right axis takes the space next to the plot: the legend goes below it
        ax.legend(handles, labels, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    else:
        _legend_outside(ax, handles, labels)
    return _save(fig, path)


def leads_histogram(leads: Sequence[float], path: Path, renew_margin: float | None = None) -> Path:
    fig, ax = _figure()
    ax.set_title("When renewals landed: seconds before the old token expired")
    if not leads:
        _no_data(ax, "renewals")
        return _save(fig, path)
    late = [x for x in leads if x <= 0]
    in_time = [x for x in leads if x > 0]
    low = min(min(leads), 0.0)
    high = max(max(leads), renew_margin or 0.0)
    span = max(high - low, 0.01)
    bins = [low + span * i / 60 for i in range(61)]
    if in_time:
        ax.hist(in_time, bins=bins, color="tab:green", alpha=0.8, label=f"in time ({len(in_time)})")
    if late:
        ax.hist(late, bins=bins, color="tab:red", alpha=0.8, label=f"after expiry: dropped ({len(late)})")
    ax.axvline(0, color="red", linewidth=1)
    if renew_margin is not None:
        ax.axvline(renew_margin, color="grey", linestyle="--", linewidth=1, label=f"renew margin {renew_margin:g} s")
    ax.set_xlabel("seconds before expiry (negative: after)")
    ax.set_ylabel("renewals")
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return _save(fig, path)


def capacity_plot(steps: Sequence[Mapping[str, Any]], path: Path, knee: Mapping[str, Any] | None,
                  max_p95_ms: float | None = None) -> Path:
    """capacity: p50 and p95 of each step against the rate offered, the knee and the first rate broken marked."""
    fig, ax = _figure()
    ax.set_title("Latency against the offered rate (one point per step)")
    points = [s for s in steps if s.get("p50_ms") is not None or any((s.get("p95_ms") or {}).values())]
    if not points:
        _no_data(ax, "steps")
        return _save(fig, path)
    ordered = sorted(points, key=lambda s: s["target_rps"])
    xs = [float(s["target_rps"]) for s in ordered]
    p50 = [max(float(s.get("p50_ms") or 0.0), 0.1) for s in ordered]
    p95 = [max(max((v for v in (s.get("p95_ms") or {}).values() if v is not None), default=0.0), 0.1)
           for s in ordered]
    ax.plot(xs, p50, ":", color="tab:blue", marker=".", label="p50")
    ax.plot(xs, p95, "-", color="tab:blue", marker=".", label="p95")
    held = [(x, y) for x, y, s in zip(xs, p95, ordered, strict=True) if s.get("held")]
    broke = [(x, y, s) for x, y, s in zip(xs, p95, ordered, strict=True) if not s.get("held")]
    if held:
        ax.scatter(*zip(*held, strict=True), color="tab:green", zorder=3, label="step held")
    if broke:
        server = [(x, y) for x, y, s in broke if not (s.get("generator") or {}).get("bound")]
        gen = [(x, y) for x, y, s in broke if (s.get("generator") or {}).get("bound")]
        if server:
            ax.scatter(*zip(*server, strict=True), color="tab:red", marker="x", s=60, zorder=3,
                       label="step broke (server)")
        if gen:
            ax.scatter(*zip(*gen, strict=True), color="tab:purple", marker="D", zorder=3,
                       label="step broke (generator)")
    if max_p95_ms is not None:
        ax.axhline(max_p95_ms, color="red", linewidth=1, alpha=0.7, label=f"p95 objective {max_p95_ms:g} ms")
    if knee and knee.get("rps"):
        ax.axvline(float(knee["rps"]), color="tab:green", linewidth=1.5, label=f"knee {knee['rps']:g}/s (held)")
    if knee and knee.get("broke_at_rps"):
        ax.axvline(float(knee["broke_at_rps"]), color="tab:red", linestyle="--", linewidth=1,
                   label=f"broke at {knee['broke_at_rps']:g}/s")
    # Doubling steps spread over a log axis; ticks at the rates that ran, so each point reads off directly.
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    rates = sorted(set(xs))
    shown = [r for i, r in enumerate(rates) if i == 0 or r / rates[i - 1] >= 1.04 or len(rates) <= 8]
    ax.xaxis.set_major_locator(FixedLocator(shown))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.tick_params(axis="x", labelrotation=45 if len(shown) > 8 else 0, labelsize=8)
    ax.set_xlabel("offered rate, requests/s (log scale)")
    ax.set_ylabel("ms (log scale)")
    ax.grid(alpha=0.3, which="both")
    _legend_outside(ax)
    return _save(fig, path)


def baseline_plot(baseline: dict[str, Any], now: dict[str, Any], path: Path) -> Path:
    """Side by side: the percentiles of both kinds and the throughput, baseline vs this run."""
    labels = [f"{k} {p.removesuffix('_ms')}" for k in LOAD_SECTIONS for p in PERCENTILE_KEYS]
    before = [float(baseline[k].get(p) or 0) for k in LOAD_SECTIONS for p in PERCENTILE_KEYS]
    after = [float(now[k].get(p) or 0) for k in LOAD_SECTIONS for p in PERCENTILE_KEYS]
    fig = _agg_figure(figsize=(10, 3.6))
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [4, 1]})
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], before, width=0.4, label="baseline", color="#8c959f")
    ax.bar([x + 0.2 for x in xs], after, width=0.4, label="this run", color="#0969da")
    ax.set_xticks(list(xs), labels, rotation=30, ha="right")
    ax.set_ylabel("latency (ms)")
    # Above the bars, outside the axes: a legend inside hides the tallest bars.
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.08), ncol=2, fontsize=8, frameon=False)
    ax.set_title("Latency percentiles", pad=24)
    ax2.bar([0, 1], [throughput(baseline), throughput(now)], color=["#8c959f", "#0969da"])
    ax2.set_xticks([0, 1], ["baseline", "this run"])
    ax2.set_title("Requests/s")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path
