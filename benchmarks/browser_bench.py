"""What HEADER-5's --browser costs: one headless Chromium launch (and its page) per run, then one fetch() per origin.

Usage: python benchmarks/browser_bench.py [--rounds N] [--json FILE]

Against the embedded reference server on loopback (a simple GET: no preflight) and a bearer-token web server of
the faulty catalogue (a preflighted GET with Authorization); medians over the rounds, with the load average.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _bench_common import loadavg, machine, median, spread, write_json

from conformance.browser import Browser, find_browser
from conformance.reference.app import demo_settings
from conformance.reference.threaded import ThreadedServer
from tests.faulty.servers import AUTH_HEADER, WEB_ORIGIN, WebCors, web_app_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fetches", type=int, default=5, help="page fetches per launch")
    parser.add_argument("--json")
    args = parser.parse_args()
    executable = find_browser()
    settings = demo_settings()
    launches, simple, preflighted = [], [], []
    load_before = loadavg()
    with ThreadedServer(web_app_server(WebCors())(settings)) as server:
        for _ in range(args.rounds):
            started = time.monotonic()
            browser = Browser(executable, server.url)
            browser.start()
            launches.append(time.monotonic() - started)
            try:
                for i in range(args.fetches):
                    t0 = time.monotonic()
                    # A new URL each time: the preflight cache (per origin and URL) must not answer for the server.
                    url = f"{server.url}/rtc/bench-{len(preflighted)}-{i}/publisher/uid/0/"
                    page = browser.fetch(WEB_ORIGIN, url, {"headers": dict([AUTH_HEADER])})
                    preflighted.append(time.monotonic() - t0)
                    assert page.read and page.status == 200, page
                    t0 = time.monotonic()
                    page = browser.fetch(WEB_ORIGIN, server.url + "/ping", {})
                    simple.append(time.monotonic() - t0)
                    assert page.read, page
            finally:
                browser.close()
    result = {
        "machine": machine(browser=browser.name, loadavg_before=load_before, loadavg_after=loadavg()),
        "launch_s": {"median": median(launches), **spread(launches)},
        "preflighted_fetch_s": {"median": median(preflighted), **spread(preflighted)},
        "simple_fetch_s": {"median": median(simple), **spread(simple)},
    }
    print(f"{browser.name}: launch median {result['launch_s']['median']} s; page fetch() with a preflight "
          f"{result['preflighted_fetch_s']['median']} s, simple {result['simple_fetch_s']['median']} s "
          f"(load {load_before} -> {loadavg()})")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
