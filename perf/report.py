#!/usr/bin/env python3
"""Tables from one perf/run.sh results folder, in Markdown.

Reads <scenario>.<server>.r<round>.json (`ringgate bench --json
--server-pid`) and metrics/<scenario>.r<round>.{before,after}.txt (ringgate's
/metrics around its 64 MiB runs) and prints, per scenario, the median over
rounds of each figure, the ratios ringgate/peer, the issue's targets met or
not, the load generator's own CPU cost, and where ringgate's time went.

Usage: perf/report.py RESULTS_DIR     (python3, standard library only)
"""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

SERVERS = ["ringgate", "seaweedfs", "s3s-fs", "null"]
PEERS = ["seaweedfs", "s3s-fs", "null"]
RUN_NAME = re.compile(r"^(?P<scenario>.+)\.(?P<server>[^.]+)\.r(?P<round>\d+)\.json$")
SAMPLE = re.compile(r'^(?P<name>[a-z_]+)\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def scenario_order(name):
    """Scenarios in the order run.sh runs them: operation, then size, then concurrency."""
    ops = ["put", "get", "mixed", "list", "multipart", "rss"]
    op = name.split("-")[0]
    size = name.split("-")[1] if "-" in name else ""
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    m = re.match(r"(\d+)(KiB|MiB|GiB)?$", size)
    size_bytes = int(m.group(1)) * units.get(m.group(2), 1) if m else 0
    conc = int(re.search(r"-c(\d+)$", name).group(1)) if re.search(r"-c(\d+)$", name) else 0
    return (ops.index(op) if op in ops else len(ops), size_bytes, conc, name)


def load_runs(folder):
    runs = defaultdict(lambda: defaultdict(list))  # scenario -> server -> [summary]
    for path in sorted(folder.glob("*.json")):
        m = RUN_NAME.match(path.name)
        if not m:
            continue
        try:
            summary = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            summary = None  # a run that could not start: counted as failed
        runs[m["scenario"]][m["server"]].append(summary)
    return runs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


class Figures:
    """The medians over rounds of one server in one scenario."""

    def __init__(self, summaries):
        ok = [s for s in summaries if s]
        self.rounds = len(summaries)
        self.failed_runs = len(summaries) - len(ok)
        self.errors = sum(s["errors"]["total"] for s in ok)
        self.error_kinds = sorted({k for s in ok for k in s["errors"]["by_kind"]})
        self.mb_s = median(s["throughput"]["mb_s"] for s in ok)
        self.ops_s = median(s["ops_per_s"] for s in ok)
        lat = [s["latency_ms"] for s in ok if s.get("latency_ms")]
        self.p50 = median(l["p50"] for l in lat)
        self.p99 = median(l["p99"] for l in lat)
        srv = [s["server"] for s in ok if s.get("server")]
        self.srv_s_per_gb = median(x["s_per_gb"] for x in srv)
        self.srv_s_per_kops = median(x["s_per_1000_ops"] for x in srv)
        self.srv_cores = median(x["cores_busy"] for x in srv)
        self.rss_mib = median(x["rss_peak_bytes"] / 2**20 for x in srv)
        self.rss_max_mib = max((x["rss_peak_bytes"] / 2**20 for x in srv), default=None)
        self.gen_s_per_gb = median(s["cpu"]["s_per_gb"] for s in ok)
        self.gen_s_per_kops = median(s["cpu"]["s_per_1000_ops"] for s in ok)
        self.gen_cores = median(s["cpu"]["cores_busy"] for s in ok)
        self.bytes = median(s["bytes"] for s in ok)


def fmt(value, digits=1):
    if value is None:
        return "–"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def moves_bytes(scenario):
    return not scenario.startswith("list")


def headline(scenario, f):
    """The figure a scenario is judged by: MB/s, or ops/s for 4 KiB and list."""
    if scenario.startswith("list") or "-4KiB-" in scenario:
        return f.ops_s
    return f.mb_s


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def stage_seconds(text):
    """ringgate_stage_seconds_total summed over cores, by stage."""
    stages = defaultdict(float)
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m["name"] == "ringgate_stage_seconds_total":
            stage = re.search(r'stage="([^"]+)"', m["labels"]).group(1)
            stages[stage] += float(m["value"])
    return stages


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    folder = Path(sys.argv[1])
    runs = load_runs(folder)
    scenarios = sorted(runs, key=scenario_order)
    figures = {sc: {srv: Figures(runs[sc][srv]) for srv in runs[sc]} for sc in scenarios}
    servers = [s for s in SERVERS if any(s in figures[sc] for sc in scenarios)]
    peers = [p for p in PEERS if p in servers]
    machine = folder / "machine.txt"
    print(f"# perf results: {folder.name}\n")
    if machine.exists():
        print("```\n" + machine.read_text().strip() + "\n```\n")

    print("## Ratios ringgate / peer (MB/s; ops/s for 4 KiB and list; median over rounds)\n")
    rows = []
    for sc in scenarios:
        f = figures[sc]
        if "ringgate" not in f:
            continue
        rg = headline(sc, f["ringgate"])
        cells = [sc, fmt(rg)]
        for p in peers:
            cells.append(fmt(ratio(rg, headline(sc, f[p])), 2) + "×" if p in f else "–")
        rows.append(cells)
    print(table(["scenario", "ringgate"] + [f"/ {p}" for p in peers], rows) + "\n")

    print("## Every figure (median over rounds)\n")
    print("MB/s = 10^6 B/s. Latency in ms. Server CPU from /proc/PID/stat over the timed phase "
          "(process and threads); RSS = peak resident set during the timed phase.\n")
    rows = []
    for sc in scenarios:
        for srv in servers:
            if srv not in figures[sc]:
                continue
            f = figures[sc][srv]
            errors = str(f.errors) + (f" ({', '.join(f.error_kinds)})" if f.error_kinds else "")
            if f.failed_runs:
                errors += f"; {f.failed_runs} of {f.rounds} runs failed"
            rows.append([sc, srv, fmt(f.mb_s), fmt(f.ops_s), fmt(f.p50, 2), fmt(f.p99, 2),
                         fmt(f.srv_s_per_gb, 3) if moves_bytes(sc) else "–",
                         fmt(f.srv_s_per_kops, 3), fmt(f.srv_cores, 2), fmt(f.rss_mib, 0), errors])
    print(table(["scenario", "server", "MB/s", "ops/s", "p50", "p99", "srv CPU s/GB",
                 "srv CPU s/1000 ops", "srv cores", "srv RSS MiB", "errors"], rows) + "\n")

    print_targets(figures)
    print_generator(figures, scenarios)
    print_stages(folder, figures, scenarios)


def get(figures, sc, srv):
    return figures.get(sc, {}).get(srv)


def print_targets(figures):
    print("## The issue's targets\n")
    rows = []

    def check(what, value, limit, scenario_note, unit="×", above=True):
        if value is None:
            rows.append([what, "–", scenario_note, "not measured"])
            return
        met = value >= limit if above else value < limit
        rows.append([what, f"{value:.2f}{unit}" if unit == "×" else f"{value:.0f} {unit}",
                     scenario_note, "met" if met else "not met"])

    def r(sc, a, b, pick):
        fa, fb = get(figures, sc, a), get(figures, sc, b)
        return ratio(pick(fa), pick(fb)) if fa and fb else None

    mb = lambda f: f.mb_s  # noqa: E731
    ops = lambda f: f.ops_s  # noqa: E731
    check("64 MiB PUT ≥ 2× SeaweedFS", r("put-64MiB-c4", "ringgate", "seaweedfs", mb), 2.0, "put-64MiB-c4")
    check("64 MiB GET ≥ 1.0× SeaweedFS", r("get-64MiB-c4", "ringgate", "seaweedfs", mb), 1.0, "get-64MiB-c4")
    check("64 MiB GET ≥ 0.8× null", r("get-64MiB-c4", "ringgate", "null", mb), 0.8, "get-64MiB-c4")
    check("4 KiB GET ops/s ≥ 5× SeaweedFS", r("get-4KiB-c16", "ringgate", "seaweedfs", ops), 5.0, "get-4KiB-c16")
    check("4 KiB GET ops/s ≥ 0.5× null", r("get-4KiB-c16", "ringgate", "null", ops), 0.5, "get-4KiB-c16")
    check("4 KiB PUT ops/s ≥ 3× SeaweedFS", r("put-4KiB-c16", "ringgate", "seaweedfs", ops), 3.0, "put-4KiB-c16")
    rss = [f.rss_max_mib for sc, fs in figures.items() if sc.startswith("rss-")
           for srv, f in fs.items() if srv == "ringgate"]
    rss_sc = next((sc for sc in figures if sc.startswith("rss-")), "rss run")
    check("gateway RSS < 512 MiB (64 × 64 MiB PUT)", max(rss) if rss else None, 512, f"{rss_sc}, max over rounds",
          unit="MiB", above=False)
    print(table(["target", "measured", "scenario", "verdict"], rows) + "\n")


def print_generator(figures, scenarios):
    print("## The load generator's own CPU (getrusage over the timed phase)\n")
    rows = []
    for sc in scenarios:
        for srv in ("null", "ringgate"):
            f = get(figures, sc, srv)
            if f is None:
                continue
            rows.append([sc, srv, fmt(f.mb_s), fmt(f.gen_cores, 2),
                         fmt(f.gen_s_per_gb, 3) if moves_bytes(sc) else "–", fmt(f.gen_s_per_kops, 3),
                         fmt(f.srv_cores, 2)])
    print(table(["scenario", "against", "MB/s", "generator cores", "generator s/GB",
                 "generator s/1000 ops", "server cores"], rows) + "\n")
    big = [get(figures, sc, "null") for sc in scenarios if "64MiB" in sc and get(figures, sc, "null")]
    per_gb = median(f.gen_s_per_gb for f in big)
    if per_gb:
        print(f"Against the null server with 64 MiB objects the generator needs a median "
              f"{per_gb:.3f} CPU s per GB, i.e. {per_gb:.2f} cores per GB/s.\n")


def print_stages(folder, figures, scenarios):
    metrics = folder / "metrics"
    rows = []
    for sc in scenarios:
        per_round = []
        for before in sorted(metrics.glob(f"{sc}.r*.before.txt")):
            after = before.with_name(before.name.replace(".before.", ".after."))
            if not after.exists():
                continue
            b, a = stage_seconds(before.read_text()), stage_seconds(after.read_text())
            per_round.append({k: a.get(k, 0.0) - b.get(k, 0.0) for k in set(a) | set(b)})
        f = get(figures, sc, "ringgate")
        if not per_round or f is None:
            continue
        stages = sorted({k for d in per_round for k in d})
        # Bytes per run: the median bytes moved in the timed phase (the
        # metrics also count preparation, so GET runs read only the timed part).
        gb = (f.bytes or 0) / 1e9
        cells = [sc]
        for stage in stages:
            s = median(d.get(stage, 0.0) for d in per_round)
            cells.append(f"{s:.2f} s" + (f" ({s / gb:.3f} s/GB)" if gb else ""))
        rows.append((stages, cells))
    if not rows:
        return
    print("## Where ringgate's time goes (/metrics stage_seconds, median over rounds)\n")
    print("Stage time is wall time inside each stage summed over requests, so with several "
          "requests in flight it can exceed the run's length. The before/after scrape also "
          "includes a GET run's preparation (its PUTs).\n")
    stages = rows[0][0]
    print(table(["scenario"] + stages, [c for _, c in rows]) + "\n")


if __name__ == "__main__":
    main()
