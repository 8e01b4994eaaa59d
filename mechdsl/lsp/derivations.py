"""What hover shows on a contract item: its least payments and the binding constraints, as
`mechdsl derive` derives them, computed off the diagnostics path and cached per spec text.

A derivation takes from tenths of a second (the bundled contracts) to seconds (large K), and
SymPy holds the GIL while it works; a thread would slow every check while it runs. So
`DerivationCache` derives in one worker *process* (spawned, its stdout pointed at stderr so
nothing it prints can reach the LSP stream) and keeps the last few results keyed by the
spec text (`text_key`: comments and layout do not count). Diagnostics never wait for it: the server submits a derivation once
a contract checks and hover awaits the future without blocking the event loop.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import sys
from collections import OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentEntry:
    """One entry of a contract variable: `R1[1]`, its formula as `mechdsl derive` prints it,
    and the form of that formula ("closed form" or the recursive rule)."""

    entry: str
    formula: str
    form: str


@dataclass(frozen=True)
class ContractDerivation:
    """The strings hover needs, small and picklable (they cross the process boundary).
    `refused` is the reduction's refusal (message and hint) when it does not apply."""

    payments: dict[str, tuple[PaymentEntry, ...]]
    binding: tuple[str, ...]
    rule_name: str
    single_crossing: str
    refused: str | None = None


def derive_text(source: str, path: str) -> ContractDerivation | None:
    """`mechdsl derive PATH` on spec text (None when the text does not check: diagnostics
    say why)."""
    from mechdsl.cli.derive_cmd import payment_display
    from mechdsl.errors import MechdslError
    from mechdsl.lang import load_source
    from mechdsl.lang.diagnostics import SpecError
    from mechdsl.reduce import derive

    try:
        model = load_source(source, path)
    except SpecError:
        return None
    try:
        derivation = derive(model)
    except MechdslError as error:
        refusal = f"cannot reduce this contract: {error}" + (f" (hint: {error.hint})" if error.hint else "")
        return ContractDerivation({}, (), "", "", refused=refusal)
    except Exception as error:  # noqa: BLE001 - hover reports a bug in derive instead of failing the request
        refusal = f"internal error in derive ({type(error).__name__}: {error}); this is a bug in mechdsl"
        return ContractDerivation({}, (), "", "", refused=refusal)
    payments: dict[str, list[PaymentEntry]] = {}
    for symbol, formula, form in payment_display(derivation):
        variable = symbol.name.split("[", 1)[0]
        payments.setdefault(variable, []).append(PaymentEntry(symbol.name, str(formula), form))
    return ContractDerivation({name: tuple(entries) for name, entries in payments.items()},
                              tuple(derivation.binding), derivation.payment_rule_name,
                              derivation.single_crossing.message)


_COMMENT_OR_STRING = re.compile(r'"[^"\n]*"|#[^\n]*')


def text_key(source: str) -> str:
    """The cache key of a spec text: its SHA-256 with comments dropped and every run of blanks
    made one space (newlines and layout carry no meaning in `.mech`), so an edit of a comment or
    of the layout finds the derivation of the text before it."""
    code = _COMMENT_OR_STRING.sub(lambda m: m.group() if m.group().startswith('"') else " ", source)
    return hashlib.sha256(" ".join(code.split()).encode("utf-8")).hexdigest()


def _quiet_worker() -> None:
    """The worker shares the server's stdout, which is the LSP stream: send its prints to stderr."""
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


class DerivationCache:
    """Derivations by spec text, computed in one background process, the last `keep` kept."""

    def __init__(self, keep: int = 8):
        self.keep = keep
        self._futures: OrderedDict[str, Future] = OrderedDict()
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_quiet_worker)
        return self._executor

    def submit(self, source: str, path: str) -> Future:
        """The derivation of `source`, started now unless it is cached or under way."""
        key = text_key(source)
        future = self._futures.get(key)
        if future is not None and not (future.done() and isinstance(future.exception(), BrokenProcessPool)):
            self._futures.move_to_end(key)
            return future
        try:
            future = self._pool().submit(derive_text, source, path)
        except BrokenProcessPool:  # the worker died (out of memory, killed): start a new one
            self._executor = None
            future = self._pool().submit(derive_text, source, path)
        self._futures[key] = future
        while len(self._futures) > self.keep:
            _, stale = self._futures.popitem(last=False)
            stale.cancel()  # a derivation of text no longer shown that has not started yet
        return future

    def get(self, source: str) -> Future | None:
        return self._futures.get(text_key(source))

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
