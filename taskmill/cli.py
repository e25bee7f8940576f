"""Command line: `taskmill run|validate|serve|prepare-model|evaluate`."""

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
    parser = argparse.ArgumentParser(prog="taskmill", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a pipeline config end to end (a Prefect flow on Ray)")
    run.add_argument("config")
    validate = sub.add_parser("validate", help="check a config without running anything")
    validate.add_argument("config")
    serve = sub.add_parser("serve", help="serve the flow on a cron schedule (visible in the Prefect UI)")
    serve.add_argument("config")
    serve.add_argument("--cron", required=True, help='e.g. "0 3 * * *"')
    serve.add_argument("--name", default=None)
    sub.add_parser("prepare-model", help="convert the packaged model once into the cache and print its path")
    from taskmill.evaluate.cli import add_evaluate_parser, run_evaluate

    add_evaluate_parser(sub)
    args = parser.parse_args(argv)
    _prefect_defaults()
    if args.command == "evaluate":
        return run_evaluate(args)

    from taskmill.config import ConfigError, load_config

    try:
        if args.command == "validate":
            cfg = load_config(args.config)
            print(f"ok: run {cfg.resolved_run_id} → {cfg.run_dir}")
            return 0
        if args.command == "prepare-model":
            from taskmill.models import resolve_model

            print(resolve_model(None))
            return 0
        if args.command == "serve":
            from flows.deploy import serve as serve_flow

            serve_flow(args.config, cron=args.cron, name=args.name)
            return 0
        from flows.pipeline import pipeline

        load_config(args.config)  # config errors before Prefect and Ray start
        summary = pipeline(config_path=os.path.abspath(args.config))
        print(json.dumps({"run_dir": summary["run_dir"], "export": summary.get("export", {})}, indent=2))
        return 0
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
