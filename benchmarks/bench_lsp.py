"""Time from an edit to its diagnostics in `mechdsl lsp`, against `mechdsl check` (issue 32).

Run: python benchmarks/bench_lsp.py [--edits 20] [--out benchmarks/results/lsp.md]

For every bundled spec (specs/*.mech, examples/*.mech) one server (`python -m mechdsl lsp`,
started once, over stdio as an editor starts it) gets the spec opened, then `--edits` edits,
one after another, of two sorts: a comment edit appends a comment line (the text changes, its
meaning does not, so every edit is checked in full), a value edit changes one number the spec
means (the first `param` value, else the last number of the first distribution line, scaled by
1 + version/1000: a changed constant reaches every expression that uses it). The time is taken
from sending `didChange` to receiving the `publishDiagnostics` of that version. The debounce (`mechdsl.lsp.server.DEBOUNCE_SECONDS`)
counts in it. The baseline, measured in the same run, is `mechdsl check SPEC` in this process
(`mechdsl.cli.main.main`, stdout discarded), as often. Target: the median under 300 ms for
the bundled specs on the 2-core machine; the table shows the median, the 90th percentile, the
check's own median and the server's overhead beyond check + debounce.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import statistics
import sys
import time
import re
from pathlib import Path
from typing import Callable

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from mechdsl.cli.main import main as mechdsl_main
from mechdsl.kinds import kind_of_source
from mechdsl.lsp.server import DEBOUNCE_SECONDS

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0


class TimingClient(LanguageClient):
    """A client that wakes whoever waits for the diagnostics of (uri, version)."""

    def __init__(self) -> None:
        super().__init__("bench-lsp", "1")
        self.arrived: dict[tuple[str, int | None], asyncio.Future] = {}
        self.counts: dict[tuple[str, int | None], int] = {}

    def expect(self, uri: str, version: int) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.arrived[(uri, version)] = future
        return future


def make_client() -> TimingClient:
    client = TimingClient()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(ls: TimingClient, params: types.PublishDiagnosticsParams) -> None:
        key = (params.uri, params.version)
        ls.counts[key] = len(params.diagnostics)
        future = ls.arrived.pop(key, None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    return client


def comment_edit(text: str, version: int) -> str:
    """The spec with one more comment line: its meaning does not change."""
    return text + f"# edit {version}\n"


PARAM_VALUE = re.compile(r"^(param\s+\w+\s*=\s*)(\d+(?:\.\d+)?)", re.MULTILINE)
DISTRIBUTION_LAST_NUMBER = re.compile(r"^([^#\n]*~[^#\n]*?)(\d+(?:\.\d+)?)(\D*)$", re.MULTILINE)


def value_edit(text: str, version: int) -> str:
    """The spec with one number it means scaled by 1 + version/1000: the first `param` value,
    else the last number of the first line with a distribution (`~`)."""
    match = PARAM_VALUE.search(text) or DISTRIBUTION_LAST_NUMBER.search(text)
    if match is None:
        raise ValueError("no param value or distribution line to edit")
    scaled = f"{float(match.group(2)) * (1 + version / 1000):.6g}"
    return text[:match.start(2)] + scaled + text[match.end(2):]


async def edit_latencies(client: TimingClient, spec: Path, edits: int,
                         edit: Callable[[str, int], str]) -> tuple[list[float], int]:
    """Milliseconds from each didChange to its diagnostics, and how many diagnostics the spec has
    after the last edit."""
    uri = spec.as_uri()
    original = spec.read_text(encoding="utf-8")
    opened = client.expect(uri, 1)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="mech", version=1, text=original)))
    await asyncio.wait_for(opened, 120)
    latencies = []
    text = original
    for version in range(2, edits + 2):
        text = edit(text if edit is comment_edit else original, version)
        arrived = client.expect(uri, version)
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        latencies.append((await asyncio.wait_for(arrived, 120) - sent) * 1000)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri=uri)))
    return latencies, client.counts[(uri, edits + 1)]


def check_times(spec: Path, runs: int) -> list[float]:
    """Milliseconds of `mechdsl check SPEC` in this process, `runs` times (the first warms caches, as the
    server's own first check does)."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert mechdsl_main(["check", str(spec)]) == 0
        times.append((time.perf_counter() - start) * 1000)
    return times[1:]


async def measure(specs: list[Path], edits: int) -> list[dict]:
    client = make_client()
    await client.start_io(sys.executable, "-m", "mechdsl", "lsp")
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         process_id=os.getpid()))
    client.initialized(types.InitializedParams())
    rows = []
    for spec in specs:
        latencies, diagnostics = await edit_latencies(client, spec, edits, comment_edit)
        value_latencies, value_diagnostics = await edit_latencies(client, spec, edits, value_edit)
        checks = check_times(spec, edits)
        kind = kind_of_source(spec.read_text(encoding="utf-8"), str(spec)).name
        rows.append({"spec": str(spec.relative_to(ROOT)), "kind": kind,
                     "diagnostics": diagnostics + value_diagnostics,
                     "lsp_median": statistics.median(latencies),
                     "value_median": statistics.median(value_latencies),
                     "lsp_p90": statistics.quantiles(latencies, n=10)[-1],
                     "check_median": statistics.median(checks)})
        print(f"{rows[-1]['spec']}: {rows[-1]['lsp_median']:.0f} ms, value edit {rows[-1]['value_median']:.0f} ms "
              f"(check {rows[-1]['check_median']:.0f} ms)",
              file=sys.stderr)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return rows


def table(rows: list[dict], edits: int) -> str:
    debounce = DEBOUNCE_SECONDS * 1000
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"load average {load} (after the run)",
        f"command: python benchmarks/bench_lsp.py --edits {edits}",
        f"debounce: {debounce:.0f} ms (counted in the edit-to-diagnostics time); target: median < {TARGET_MS:.0f} ms",
        "",
        "| spec | kind | comment edit -> diagnostics, median (ms) | p90 (ms) | value edit -> diagnostics, median (ms) "
        "| `mechdsl check` in-process, median (ms) | ratio lsp / check | overhead beyond check + debounce (ms) "
        "| diagnostics after the edits | under target |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        overhead = r["lsp_median"] - r["check_median"] - debounce
        slowest = max(r["lsp_median"], r["value_median"])
        lines.append(f"| {r['spec']} | {r['kind']} | {r['lsp_median']:.0f} | {r['lsp_p90']:.0f} | "
                     f"{r['value_median']:.0f} | {r['check_median']:.0f} | {r['lsp_median'] / r['check_median']:.2f} | "
                     f"{overhead:.0f} | {r['diagnostics']} | {'yes' if slowest < TARGET_MS else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None, help="also write the table to this file")
    parser.add_argument("--specs", nargs="*", type=Path, default=None, help="default: specs/*.mech, examples/*.mech")
    args = parser.parse_args(argv)
    specs = [p.resolve() for p in args.specs] if args.specs else sorted(
        [*ROOT.glob("specs/*.mech"), *ROOT.glob("examples/*.mech")])
    text = table(asyncio.run(measure(specs, args.edits)), args.edits)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
