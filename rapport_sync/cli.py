"""The ``rapport-sync`` command line.

Every subcommand imports what it needs only when it runs, so ``--help`` is fast and a
missing optional backend only matters to the command that uses it. Errors reach the user
as one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence

from . import __version__
from .errors import ConfigError, RapportSyncError

__all__ = ["main", "build_parser"]


def _number(kind: type = float, positive: bool = True, at_least: float | None = None,
            at_most: float | None = None):  # type: ignore[no-untyped-def]
    """An argparse type: a finite number above 0 (or, with ``positive=False``, any), within
    ``at_least`` ... ``at_most`` when given; one line naming what is wrong otherwise."""
    def parse(text: str):  # type: ignore[no-untyped-def]
        from .sources.base import parse_number

        try:
            return parse_number(text, kind, positive, at_least, at_most)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} {exc}") from None
    return parse


MAX_SPEED = 10_000.0  # times real time; beyond it the pacing clock's arithmetic overflows


def _seed():  # type: ignore[no-untyped-def]
    from .sources.base import MAX_SEED

    return _number(int, positive=False, at_least=0, at_most=MAX_SEED)


def _add_session_options(p: argparse.ArgumentParser) -> None:
    from .sources.base import MAX_DURATION_S

    p.add_argument("--out", metavar="SESSION", help="session file to create "
                   "(default: a new file in the per-user sessions folder)")
    p.add_argument("--duration", type=_number(at_most=MAX_DURATION_S), metavar="S",
                   help="stop after S seconds of session time (default: until Ctrl-C)")
    p.add_argument("--headless", action="store_true",
                   help="terminal view instead of the monitor window")
    p.add_argument("--window", type=_number(at_least=10, at_most=3600), default=60.0,
                   metavar="S", help="synchrony window in seconds, 10-3600 (default 60)")
    p.add_argument("--span", type=_number(at_least=5, at_most=3600), default=60.0, metavar="S",
                   help="seconds of breathing shown in the monitor, 5-3600 (default 60)")
    p.add_argument("--name-a", metavar="LABEL", help="label of person A (stays in the session "
                   "file; exports use pseudonymous ids)")
    p.add_argument("--name-b", metavar="LABEL", help="label of person B")
    p.add_argument("--lsl", action="store_true", help="publish breathing, heart rate and "
                   "synchrony as Lab Streaming Layer outlets (visible on the local network)")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the monitor window "
                   "when the session ends")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rapport-sync",
        description="Measure how well two people's breathing rhythms match, live and offline.")
    parser.add_argument("--version", action="version", version=f"rapport-sync {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="two simulated people through the whole pipeline",
                       description="Run a session on two simulated people (no hardware): "
                       "independent breathing, then coupled with A leading, then independent.")
    _add_session_options(p)
    p.add_argument("--speed", type=_number(at_most=MAX_SPEED), default=1.0, metavar="X",
                   help="run X times faster than real time (default 1)")
    p.add_argument("--seed", type=_seed(), default=0, metavar="N",
                   help="simulation seed (default 0)")
    p.add_argument("--source", choices=("sim", "ble-sim"), default="sim",
                   help="simulated belts on one board (sim) or two simulated Polar H10 "
                   "straps through the real BLE path (ble-sim)")
    p.add_argument("--script", default="default", metavar="NAME",
                   help="coupling script: default, independent, coupled (A leads by 1.5 s), "
                        "a-leads (1.2 s), b-leads (1.5 s), together (in phase)")
    p.set_defaults(run=run_demo)

    p = sub.add_parser("record", help="monitor and record two people",
                       description="Record two people. SOURCE is e.g. 'ble:Polar H10 1A2B3C4D', "
                       "'ble:AA:BB:CC:DD:EE:FF', 'serial:/dev/ttyACM0#0', 'lsl:name=RespA', "
                       "'replay:FILE#a' or 'sim'.")
    p.add_argument("--a", required=True, metavar="SOURCE", help="source of person A")
    p.add_argument("--b", required=True, metavar="SOURCE", help="source of person B")
    _add_session_options(p)
    p.set_defaults(run=run_record)

    p = sub.add_parser("info", help="what a session holds",
                       description="Participants, devices, duration, samples per stream, gaps, "
                       "events, markers, and whether the session ended cleanly.")
    p.add_argument("session", metavar="SESSION")
    p.set_defaults(run=run_info)

    p = sub.add_parser("scan", help="list Bluetooth LE heart-rate straps nearby")
    p.add_argument("--timeout", type=_number(), default=5.0, metavar="S",
                   help="how long to listen (default 5 s)")
    p.add_argument("--all", action="store_true", help="also list devices that are not straps")
    p.set_defaults(run=_delegate("rapport_sync.sources.ble_scan", "run_scan"))

    p = sub.add_parser("analyze", help="offline synchrony metrics with surrogate statistics",
                       description="INPUT is a session file or a CSV with a 'time' column in "
                       "seconds and 'a_resp', 'b_resp' (optional a_hr, b_hr in bpm, a_rr, b_rr).")
    p.add_argument("input", metavar="INPUT")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--surrogates", type=_number(int), default=200, metavar="N",
                   help="surrogates per type (default 200)")
    p.add_argument("--window", type=_number(at_least=10, at_most=3600), default=60.0,
                   metavar="S", help="window of the windowed series in seconds, 10-3600 "
                   "(default 60)")
    p.add_argument("--seed", type=_seed(), default=0, metavar="N", help="surrogate seed")
    p.add_argument("--pseudo-dyad", nargs="+", metavar="OTHER",
                   help="other sessions or CSVs whose people serve as never-met partners "
                        "(adds pseudo-dyad surrogates)")
    p.set_defaults(run=_delegate("rapport_sync.analysis", "run_analyze"))

    p = sub.add_parser("export", help="export a session for research (BIDS, EDF+, CSV)")
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--format", required=True, choices=("bids", "edf", "csv"))
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--with-labels", action="store_true",
                   help="write the participants' labels instead of pseudonymous ids")
    p.set_defaults(run=_delegate("rapport_sync.export", "run_export"),
                   interrupted="export interrupted; nothing was written")

    p = sub.add_parser("report", help="a self-contained HTML report of a session")
    p.add_argument("session", metavar="SESSION")
    p.add_argument("--out", required=True, metavar="HTML")
    p.add_argument("--surrogates", type=_number(int), default=200, metavar="N")
    p.set_defaults(run=_delegate("rapport_sync.export.report", "run_report"),
                   interrupted="report interrupted; nothing was written")

    p = sub.add_parser("sim-serial", help="a virtual two-belt board on a pseudo-terminal",
                       description="Create a pty streaming the belt protocol from the simulator; "
                       "prints the port's path first, runs until interrupted.")
    p.add_argument("--seed", type=_seed(), default=0, metavar="N")
    p.add_argument("--script", default="default", metavar="NAME")
    p.add_argument("--link", metavar="PATH",
                   help="also make a symbolic link at PATH to the port (a stable name)")
    p.set_defaults(run=_delegate("rapport_sync.sources.sim_serial", "run_sim_serial"))
    return parser


def _delegate(module: str, function: str):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        import importlib
        return int(getattr(importlib.import_module(module), function)(args) or 0)
    return run


def run_demo(args: argparse.Namespace) -> int:
    from .sources.base import SourceSpec
    from .sources.sim import SCRIPTS
    if args.script not in SCRIPTS:
        raise ConfigError(f"unknown script {args.script!r}; one of {', '.join(SCRIPTS)}")
    target = f"seed={args.seed},script={args.script}"
    if args.duration and args.source == "sim":  # the board stops exactly at the end
        target += f",duration={args.duration}"
    specs = {p: SourceSpec.parse(f"{args.source}:{target}") for p in ("a", "b")}
    return _run_session(args, specs, mode="demo", speed=args.speed,
                        config={"seed": args.seed, "script": args.script, "speed": args.speed})


def run_record(args: argparse.Namespace) -> int:
    from .sources.base import SourceSpec
    specs = {"a": SourceSpec.parse(args.a), "b": SourceSpec.parse(args.b)}
    return _run_session(args, specs, mode="record", speed=1.0, config={})


def _run_session(args: argparse.Namespace, specs: dict, mode: str, speed: float,
                 config: dict) -> int:
    import datetime as dt
    from pathlib import Path

    from .session.live import LiveSession
    from .session.store import SUFFIX, default_session_dir
    from .sources.base import MonotonicClock
    from .ui.terminal import display_available, run_terminal_view

    out = Path(args.out) if args.out else default_session_dir() / (
        dt.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{mode}{SUFFIX}")
    session = LiveSession(specs, out, {"a": args.name_a, "b": args.name_b},
                          clock=MonotonicClock(speed), window_s=args.window,
                          config={"mode": mode, **config})
    use_window = not args.headless and display_available()
    if use_window:
        from .ui.monitor import run_monitor
        return run_monitor(session, args)
    session.start()
    return run_terminal_view(session, duration_s=args.duration, title=mode,
                             lsl=args.lsl)


def run_info(args: argparse.Namespace) -> int:
    from .session.info import describe_session
    print(describe_session(args.session))
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None):  # type: ignore[no-untyped-def]
    """rapport_sync's own warnings (a damaged session read in part) reach the user as one
    line each, like its errors; other warnings are shown as Python shows them."""
    from .errors import SessionDamageWarning

    if issubclass(category, SessionDamageWarning):
        print(f"rapport-sync: warning: {message}", file=sys.stderr)
    else:
        _PYTHON_SHOWWARNING(message, category, filename, lineno, file, line)


_PYTHON_SHOWWARNING = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Without --debug the user sees rapport_sync's own one-line messages, not library logs.
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        format="%(levelname)s %(name)s: %(message)s")
    warnings.showwarning = _one_line_warning  # the same hook however often main runs
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:  # a recording ends itself on Ctrl-C; this is everything else
        if getattr(args, "interrupted", None):  # what a command's Ctrl-C left behind
            print(f"rapport-sync: {args.interrupted}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of the output has gone (`rapport-sync info S | head -1`): end quietly,
        # as Unix tools do, with the status of a process ended by SIGPIPE; stdout is
        # pointed at /dev/null so the interpreter's last flush has nowhere to fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13
    except RapportSyncError as exc:
        if args.debug:
            raise
        print(f"rapport-sync: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the one place that turns bugs into one line
        if args.debug:
            raise
        print(f"rapport-sync: internal error: {type(exc).__name__}: {exc} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
