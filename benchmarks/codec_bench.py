"""Codec throughput: 006 / 007 decodes per second, and decodes plus signature verifications, on one core.

Targets (docs/performance.md, "Codec"), measured in the same run on the
same tokens:

* our decode alone is at least 2x the rate at which agoraiotools parses them;
* our decode plus verify is at least as fast as that parse alone.

Why these targets: a load run decodes and verifies every token a server returns, on
the load generator's own cores; the harness must not be the bottleneck, and the
obvious alternative (agoraiotools, which parses but cannot verify) is the yardstick.

The tokens are RTC publisher tokens as a token server returns them, built with
agoraiotools' RtcTokenBuilder2 (007) and RtcTokenBuilder (006): one hour of
validity, distinct channels and uids. agoraiotools parses each token with a new
``AccessToken()`` and ``from_string`` / ``fromString``: its parse state lives in
the instance and is never reset (a reused 007 instance keeps the services of
earlier tokens), so a fresh instance per token is the correct use. Its rate with
one reused instance is reported too, for the record.

Contenders run interleaved: each of >= 7 rounds times every contender once (a
calibrated number of passes over all tokens), so a change in machine load hits
all of them alike; figures are medians over rounds, and each ratio is the median
of the per-round ratios. timeit turns the garbage collector off while timing,
for every contender alike. The process is pinned to one CPU where the OS allows.

    python benchmarks/codec_bench.py [--json out.json] [--check]

``--check`` exits 1 when a target is missed (for a CI gate); without it the
script only reports.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import random
import statistics
import sys
import time
import timeit
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _bench_common import cpu_model  # the benchmarks' shared machine description

from conformance.tokens import decode, verify

APP_ID = "970CA35de60c44645bbae8a215061b33"
CERTIFICATE = "5CFd2fd1755d40ecb72977518be15d3b"
EXPIRE_S = 3600
DECODE_RATIO_TARGET = 2.0
VERIFY_RATIO_TARGET = 1.0

with warnings.catch_warnings():  # agoraiotools' __init__ imports its deprecated DynamicKey modules
    warnings.simplefilter("ignore", DeprecationWarning)
    # Its __init__ shadows these modules with classes of the same name: import them by path.
    _AT006: Any = importlib.import_module("agoraiotools.AccessToken")
    _AT007: Any = importlib.import_module("agoraiotools.AccessToken2")
    _RTC006: Any = importlib.import_module("agoraiotools.RtcTokenBuilder")
    _RTC007: Any = importlib.import_module("agoraiotools.RtcTokenBuilder2")


def make_tokens(count: int, seed: int = 2024) -> dict[str, list[tuple[str, str, int]]]:
    """``count`` publisher tokens per version, as (token, channel, uid)."""
    rng = random.Random(seed)
    now = int(time.time())
    out: dict[str, list[tuple[str, str, int]]] = {"007": [], "006": []}
    for i in range(count):
        channel = f"room-{rng.randrange(10**6):06d}-{i}"
        uid = rng.randrange(1, 2**32)
        out["007"].append((
            _RTC007.RtcTokenBuilder2.build_token_with_uid(
                APP_ID, CERTIFICATE, channel, uid, _RTC007.Role_Publisher, EXPIRE_S, EXPIRE_S
            ),
            channel,
            uid,
        ))
        out["006"].append((
            _RTC006.RtcTokenBuilder.buildTokenWithUid(
                APP_ID, CERTIFICATE, channel, uid, _RTC006.Role_Publisher, now + EXPIRE_S
            ),
            channel,
            uid,
        ))
    return out


def contenders(version: str, items: list[tuple[str, str, int]]) -> dict[str, Callable[[], None]]:
    """One callable per measurement; each makes one pass over every token."""
    tokens = [t for t, _, _ in items]
    module = _AT007 if version == "007" else _AT006
    parse_name = "from_string" if version == "007" else "fromString"
    new_parser = module.AccessToken
    reused = getattr(new_parser(), parse_name)

    def ours_decode() -> None:
        for t in tokens:
            decode(t)

    def ours_decode_verify() -> None:
        for t, channel, uid in items:
            # 006 needs the channel and uid it was requested for; 007 ignores them.
            if not verify(decode(t), CERTIFICATE, channel=channel, uid=uid):
                raise AssertionError("a genuine token did not verify")

    def agoraiotools_parse() -> None:
        for t in tokens:
            getattr(new_parser(), parse_name)(t)

    def agoraiotools_parse_reused() -> None:
        for t in tokens:
            reused(t)

    return {
        "ours_decode": ours_decode,
        "ours_decode_verify": ours_decode_verify,
        "agoraiotools_parse": agoraiotools_parse,
        "agoraiotools_parse_reused": agoraiotools_parse_reused,
    }


def measure(fns: dict[str, Callable[[], None]], per_call: int, repeat: int, seconds: float) -> dict[str, list[float]]:
    """Tokens per second of each contender in each of ``repeat`` interleaved rounds of ~``seconds`` each."""
    timers = {name: timeit.Timer(fn) for name, fn in fns.items()}
    numbers = {}
    for name, timer in timers.items():
        number, elapsed = timer.autorange()
        numbers[name] = max(1, int(number * seconds / max(elapsed, 1e-9)))
    rates: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, timer in timers.items():
            rates[name].append(per_call * numbers[name] / timer.timeit(numbers[name]))
    return rates


def summary(rates: list[float]) -> dict[str, Any]:
    return {"per_s": round(statistics.median(rates)), "min_per_s": round(min(rates)), "max_per_s": round(max(rates))}


def pin_one_cpu() -> str:
    """Run on one core, so the figures are per-core rates; say which."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def machine() -> dict[str, Any]:
    import zlib

    return {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus_online": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        "agoraiotools": importlib.import_module("agoraiotools").__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per version (default 100)")
    parser.add_argument("--repeat", type=int, default=7, help="timeit repeats, at least 7 (default 7)")
    parser.add_argument("--seconds", type=float, default=0.2, help="target seconds per repeat (default 0.2)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    repeat = max(7, args.repeat)

    pinning = pin_one_cpu()
    info = machine() | {"affinity": pinning}
    tokens = make_tokens(args.tokens)
    results: dict[str, Any] = {"machine": info, "tokens_per_version": args.tokens, "versions": {}}
    ok = True
    for version in ("007", "006"):
        sample = tokens[version]
        rates = measure(contenders(version, sample), len(sample), repeat, args.seconds)
        parse = rates["agoraiotools_parse"]
        decode_ratio = statistics.median(d / p for d, p in zip(rates["ours_decode"], parse, strict=True))
        verify_ratio = statistics.median(v / p for v, p in zip(rates["ours_decode_verify"], parse, strict=True))
        met = {
            "decode_at_least_2x_parse": decode_ratio >= DECODE_RATIO_TARGET,
            "decode_verify_at_least_parse": verify_ratio >= VERIFY_RATIO_TARGET,
        }
        ok = ok and all(met.values())
        results["versions"][version] = {
            "token_chars": round(statistics.mean(len(t) for t, _, _ in sample)),
            **{name: summary(r) for name, r in rates.items()},
            "decode_over_parse": round(decode_ratio, 2),
            "decode_verify_over_parse": round(verify_ratio, 2),
            "targets_met": met,
            "rounds": repeat,
        }

    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 1 if args.check and not ok else 0


def print_table(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"machine: {m['platform']} | {m['cpu']} | {m['python']} | zlib {m['zlib']} | {m['affinity']}")
    print(f"tokens: {results['tokens_per_version']} RTC publisher tokens per version (agoraiotools {m['agoraiotools']})\n")
    head = (
        f"{'version':7}  {'ours decode/s':>13}  {'ours dec+verify/s':>17}  {'agoraiotools parse/s':>20}  "
        f"{'decode/parse':>14}  {'dec+verify/parse':>16}  {'(parse, reused instance/s)':>26}"
    )
    print(head)
    print("-" * len(head))
    for version, v in results["versions"].items():
        met = v["targets_met"]
        print(
            f"{version:7}  {v['ours_decode']['per_s']:13,}  {v['ours_decode_verify']['per_s']:17,}  "
            f"{v['agoraiotools_parse']['per_s']:20,}  "
            f"{v['decode_over_parse']:>8.2f}x {'ok' if met['decode_at_least_2x_parse'] else 'MISS':>4}  "
            f"{v['decode_verify_over_parse']:>10.2f}x {'ok' if met['decode_verify_at_least_parse'] else 'MISS':>4}  "
            f"{v['agoraiotools_parse_reused']['per_s']:26,}"
        )
    print(
        f"\ntargets: decode >= {DECODE_RATIO_TARGET:g}x parse; decode+verify >= {VERIFY_RATIO_TARGET:g}x parse "
        f"(medians of {results['versions']['007']['rounds']} interleaved rounds, one core)"
    )


if __name__ == "__main__":
    sys.exit(main())
