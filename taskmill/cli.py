"""Command line: `taskmill run|validate|serve|export|inspect|prepare-model|evaluate`.

To watch runs in a Prefect UI on a non-default port, set both
`PREFECT_API_URL=http://127.0.0.1:PORT/api` (where runs are recorded) and
`PREFECT_UI_API_URL=http://127.0.0.1:PORT/api` (what the UI's browser code calls).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _prefect_defaults() -> None:
    # The embedded Prefect API takes ~20 s to start on a small machine; analytics would try the network.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: list[str] | None = None) -> int:
    from taskmill import __version__

    parser = argparse.ArgumentParser(prog="taskmill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"taskmill {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline config end to end (a Prefect flow on Ray)")
    run.add_argument("config", help="the run config (YAML); rerunning the same config resumes its run directory")
    run.add_argument(
        "-v", "--verbose", action="store_true",
        help="also show vLLM engine and Ray worker output and Prefect's task logs (by default they go to RUN_DIR/logs/engine.log "
        "and the Prefect UI; the terminal gets one line per stage)",
    )  # fmt: skip
    validate = sub.add_parser("validate", help="check a config without running anything")
    validate.add_argument("config", help="the run config (YAML) to check")
    serve = sub.add_parser("serve", help="serve the flow on a cron schedule (visible in the Prefect UI)")
    serve.add_argument("config", help="the run config (YAML) each scheduled run executes")
    serve.add_argument("-v", "--verbose", action="store_true", help="show engine, Ray worker and Prefect task output in this terminal")
    serve.add_argument("--cron", required=True, help='cron schedule in UTC, e.g. "0 3 * * *" (03:00 every day)')
    serve.add_argument("--name", default=None, help="deployment name (default: the config file's name)")
    serve.add_argument(
        "--concurrency-limit", type=int, default=1,
        help="flow runs of this deployment at once (default 1: a run due while one is running waits)",
    )
    sub.add_parser("prepare-model", help="convert the packaged model once into the cache and print its path")
    export = sub.add_parser("export", help="write a finished run's export/ again, and optionally push it to the Hub")
    export.add_argument("run_dir", help="a run directory (runs/<name>-<hash>) whose selected stage is done")
    export.add_argument("--push", metavar="REPO", default=None, help='push to this Hub dataset repo ("user/name"); token from HF_TOKEN or `hf auth login`')
    export.add_argument("--public", action="store_true", help="create the repo public (default: private)")
    export.add_argument("--config-name", default=None, help="push as one config of this name (default: one config per format)")
    export.add_argument("--revision", default="main", help="branch to push to (created from main if absent)")
    export.add_argument("--no-rewrite", action="store_true", help="push the existing export/ as is, without writing it again")
    inspect = sub.add_parser("inspect", help="show a run: stages, counts, rejects by reason, sample records")
    inspect.add_argument("run_dir", help="a run directory (runs/<name>-<hash>)")
    inspect.add_argument("--reason", default=None, help="show rejected records with this reason code (e.g. near_dup)")
    inspect.add_argument("--stage", default=None, help="show sample records of this stage (e.g. curated, generated/bonito; sources: where skipped source rows are)")
    inspect.add_argument("-n", "--samples", type=_count, default=3, help="records to show (default 3; 0: counts only)")
    inspect.add_argument("--json", action="store_true", help="print the overview as JSON")
    from taskmill.evaluate.cli import add_evaluate_parser, run_evaluate

    add_evaluate_parser(sub)
    args = parser.parse_args(argv)
    _prefect_defaults()
    if args.command in ("run", "serve"):
        from taskmill.logs import set_verbose

        set_verbose(args.verbose)  # before Prefect is imported: it reads its console level once
    if args.command == "evaluate":
        return run_evaluate(args)

    from taskmill.config import ConfigError
    from taskmill.hub import HubPushError
    from taskmill.runinfo import RunDirError
    from taskmill.sources import SourceError
    from taskmill.store import RunLockedError

    try:
        if args.command == "validate":
            cfg = _checked(args.config)
            print(f"ok: run {cfg.resolved_run_id} → {cfg.run_dir}")
            return 0
        if args.command == "prepare-model":
            from taskmill.models import resolve_model

            print(resolve_model(None))
            return 0
        if args.command == "serve":
            from flows.deploy import serve as serve_flow

            serve_flow(args.config, cron=args.cron, name=args.name, concurrency_limit=args.concurrency_limit)
            return 0
        if args.command == "inspect":
            from taskmill.runinfo import inspect_run

            print(inspect_run(args.run_dir, reason=args.reason, stage=args.stage, samples=args.samples, as_json=args.json))
            return 0
        if args.command == "export":
            from taskmill.runinfo import reexport

            if args.push:  # a missing token or a bad repo id is said before export/ is rewritten
                from taskmill.hub import check_push

                check_push(args.push)
            paths = {} if args.no_rewrite else reexport(args.run_dir)
            result: dict = {"export": paths}
            if args.push:
                from taskmill.hub import push_run

                result["hub"] = push_run(
                    args.run_dir, args.push, private=not args.public, config_name=args.config_name, revision=args.revision
                )
            print(json.dumps(result, indent=2))
            return 0
        from flows.pipeline import pipeline

        cfg = _checked(args.config)  # config and pre-flight errors before Prefect and Ray start
        from taskmill.logs import engine_log_path, last_log_path, quiet_prefect_console
        from taskmill.schedule import for_this_run

        from taskmill.interrupt import exit_on_interrupt

        run_dir = for_this_run(cfg).run_dir
        log = engine_log_path(run_dir)
        # Also around the flow: Prefect logs a failed flow's traceback after the flow function has returned.
        restore = (lambda: None) if args.verbose else quiet_prefect_console(log)
        default_interrupt = exit_on_interrupt(run_dir)  # Ctrl-C: stop in seconds, resumable
        try:
            summary = pipeline(config_path=os.path.abspath(args.config))
        except Exception as exc:  # noqa: BLE001 - any failure: its message, the engine log's path and tail, exit 1
            _report_failure(exc, last_log_path() or log, verbose=args.verbose)
            return 1
        finally:
            default_interrupt()
            restore()
        print(json.dumps({"run_dir": summary["run_dir"], "export": summary.get("export", {})}, indent=2))
        return 0
    except (ConfigError, SourceError) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (RunDirError, RunLockedError, HubPushError) as exc:
        print(f"taskmill {args.command}: {exc}", file=sys.stderr)
        return 3


def _count(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _report_failure(exc: BaseException, log: str, verbose: bool) -> None:
    """The error, the engine log's path and its last lines (worker output is not in the terminal unless -v)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if len(lines) > 6:  # a remote traceback (Prefect printed it whole above): where it happened, and what
        lines = [lines[0], "  ...", *lines[-3:]]
    print(f"taskmill run failed: {type(exc).__name__}: " + "\n".join(lines), file=sys.stderr)
    if os.path.exists(log):
        if not verbose:
            with open(log, encoding="utf-8", errors="replace") as f:
                tail = f.readlines()[-15:]
            print(f"last lines of {log}:", file=sys.stderr)
            sys.stderr.writelines(f"  {line}" for line in tail)
        print(f"engine and Ray worker log: {log}", file=sys.stderr)


def _checked(path: str):
    """The loaded config after pre-flight (`taskmill.preflight`); warnings go to stderr."""
    from taskmill.config import load_config
    from taskmill.preflight import preflight

    cfg = load_config(path)
    for warning in preflight(cfg):
        print(f"warning: {warning}", file=sys.stderr)
    return cfg


if __name__ == "__main__":
    sys.exit(main())
