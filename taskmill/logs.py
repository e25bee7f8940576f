"""What a run shows in the terminal, and where the rest of its output goes.

Quiet by default: the terminal gets one line per stage (`stage_line`), a live
line of generation progress when stdout is a terminal, warnings and errors.
Everything Ray workers print (the vLLM engine actors and their EngineCore
processes, symbolic-shard and curation tasks) goes to `<run_dir>/logs/engine.log`
instead; Prefect's console handler shows warnings and errors only, errors
without their traceback (written to the log file), while the Prefect API (and
so the UI) still receives every log line with its traceback.

Verbose (`taskmill run -v`, or `TASKMILL_VERBOSE=1`): worker output and Prefect's
INFO lines reach the terminal as well, as Ray and Prefect print them by default;
`engine.log` is written all the same.

Switches used: Ray forwards worker stdout/stderr to the driver when
`ray.init(log_to_driver=True)`; the driver hands each batch of lines to the
handlers of `ray._private.ray_logging.global_worker_stdstream_dispatcher`, where
Ray's own printer is registered as "ray_print_logs". `RunOutput` swaps that
printer for one writing the run's log file while the run lasts (no public Ray
API routes forwarded lines; `log_to_driver=False` would drop them, and Ray's
per-worker files sit in the session dir, away from the run). Prefect's console
handler is the `console` handler of its logging config
(`PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL` before Prefect is imported; the level
of the live handler once it is).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Callable, TextIO

VERBOSE_ENV = "TASKMILL_VERBOSE"
ENGINE_LOG = "logs/engine.log"
_RAY_PRINTER = "ray_print_logs"  # the name Ray registers its driver-side printer under
_HANDLER = "taskmill_run_log"


def set_verbose(verbose: bool) -> None:
    """Choose quiet or verbose output for runs in this process (and processes it starts)."""
    os.environ[VERBOSE_ENV] = "1" if verbose else "0"
    if not verbose:
        # Read when Prefect configures logging on import; `RunOutput` also sets the live handler.
        os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
        # Download/load/save bars of huggingface_hub (and transformers, which follows it) and datasets.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def _progress_bars_off() -> None:
    """Library progress bars off in this process: env for libraries imported later, calls for those imported."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    if "datasets" in sys.modules:
        sys.modules["datasets"].disable_progress_bars()


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def ray_logging_level() -> int:
    """Level of Ray's driver-side logger (`ray.init(logging_level=...)`): "Started a local Ray instance" is INFO."""
    return logging.INFO if is_verbose() else logging.WARNING


def engine_log_path(run_dir: str) -> str:
    """`<run_dir>/logs/engine.log`, absolute; for a remote run dir (a filesystem URL) a local file named after it."""
    if run_dir.startswith("file://"):
        run_dir = run_dir[len("file://") :]
    elif "://" in run_dir:  # log lines are appended as they come: a local file, not an object store
        import tempfile

        return os.path.join(tempfile.gettempdir(), "taskmill-logs", run_dir.rstrip("/").rsplit("/", 1)[-1], "engine.log")
    return os.path.abspath(os.path.join(run_dir, ENGINE_LOG))


_LAST_LOG: list[str] = []


def last_log_path() -> str | None:
    """The log file of the latest run started in this process (its run dir may be known only inside the flow)."""
    return _LAST_LOG[-1] if _LAST_LOG else None


class Terminal:
    """Writes progress to stdout directly (not through `print`, which the flow's log_prints captures).

    A live line (generation progress) is redrawn in place when stdout is a terminal and
    never written otherwise; a stage line first clears it.
    """

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream
        self._lock = threading.Lock()
        self._live = ""
        self._last_draw = 0.0

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stdout

    def is_tty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def line(self, text: str) -> None:
        with self._lock:
            self._clear_live()
            self.stream.write(text + "\n")
            self.stream.flush()

    def live(self, text: str, min_interval_s: float = 0.25) -> None:
        """Redraw the live line (at most every `min_interval_s` seconds); no-op when not a terminal."""
        if not self.is_tty():
            return
        with self._lock:
            now = time.monotonic()
            if now - self._last_draw < min_interval_s:
                return
            self._last_draw = now
            width = 119
            self.stream.write("\r" + text[:width].ljust(len(self._live[:width])))
            self.stream.flush()
            self._live = text

    def end_live(self) -> None:
        with self._lock:
            self._clear_live()

    def _clear_live(self) -> None:
        if self._live:
            self.stream.write("\r" + " " * min(len(self._live), 119) + "\r")
            self._live = ""


TERMINAL = Terminal()


def stage_line(stage: str, records_in: int | None, kept: int | None, seconds: float, note: str = "") -> str:
    """One stage's line: `  generate-bonito      48 in →     40 kept    12.3 s  (note)`."""
    counts = f"{records_in if records_in is not None else '-':>7} in → {kept if kept is not None else '-':>6} kept"
    text = f"  {stage:<26} {counts} {seconds:>8.1f} s"
    return f"{text}  {note}" if note else text


def _worker_prefix(data: dict[str, Any]) -> str:
    # What Ray prints before a forwarded line: the actor or task name and the worker's pid.
    name = data.get("actor_name") or data.get("task_name") or ""
    pid = data.get("pid", "")
    ip = data.get("ip", "")
    where = f"pid={pid}" + (f", ip={ip}" if ip and ip != data.get("localhost") else "")
    return f"({name} {where})" if name else f"({where})"


class _WithoutTraceback(logging.Formatter):
    """Wraps a console formatter: an error's message without its traceback, which is in the log file."""

    def __init__(self, inner: logging.Formatter | None, log_path: str):
        super().__init__()
        self.inner = inner or logging.Formatter()
        self.log_path = log_path

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info
        if not saved[0]:
            return self.inner.format(record)
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return f"{self.inner.format(record)}  (traceback in {self.log_path})"
        finally:
            record.exc_info, record.exc_text, record.stack_info = saved


def quiet_prefect_console(log_path: str) -> Callable[[], None]:
    """Prefect's console handlers show warnings and errors only, errors without their traceback
    (a note points to `log_path`); returns the function that restores them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    changed: list[tuple[logging.Handler, int, logging.Formatter | None]] = []
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    for handler in {id(h): h for lg in loggers for h in lg.handlers if isinstance(h, PrefectConsoleHandler)}.values():
        changed.append((handler, handler.level, handler.formatter))
        handler.setLevel(max(handler.level, logging.WARNING))
        handler.setFormatter(_WithoutTraceback(handler.formatter, log_path))

    def restore() -> None:
        for handler, level, formatter in changed:
            handler.setLevel(level)
            handler.setFormatter(formatter)

    return restore


class RunOutput:
    """While a run lasts: worker lines to `<run_dir>/logs/engine.log`, Prefect's console quiet unless verbose.

    Use as a context manager around the run, and call `route_ray_workers()` again right after
    `ray.init` when Ray starts inside it. `lines_written` counts worker lines in the file.
    """

    def __init__(self, run_dir: str, verbose: bool | None = None):
        self.path = engine_log_path(run_dir)
        self.verbose = is_verbose() if verbose is None else verbose
        self.lines_written = 0
        self._file: TextIO | None = None
        self._printer: Any = None
        self._dispatcher: Any = None
        self._console_levels: list[tuple[logging.Handler, int]] = []
        self._ray_file_handler: logging.Handler | None = None
        self._error_file_handler: logging.Handler | None = None
        self._restore_console: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> "RunOutput":
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        _LAST_LOG[:] = [self.path]
        self._file = open(self.path, "a", encoding="utf-8", buffering=1)
        self._file.write(f"==== run output {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n")
        self.route_ray_workers()
        if not self.verbose:
            self._quiet_prefect_console()
            self._quiet_ray_driver()
            _progress_bars_off()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._dispatcher is not None:
            self._dispatcher.remove_handler(_HANDLER)
            if self._printer is not None:
                self._dispatcher.add_handler(_RAY_PRINTER, self._printer)
        for handler, level in self._console_levels:
            handler.setLevel(level)
        if self._restore_console is not None:
            self._restore_console()
        if self._error_file_handler is not None:
            logging.getLogger().removeHandler(self._error_file_handler)
            self._error_file_handler.close()
        if self._ray_file_handler is not None:
            logging.getLogger("ray").removeHandler(self._ray_file_handler)
            self._ray_file_handler.close()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def write(self, text: str) -> None:
        """Add driver-side lines to the log file (e.g. an engine start-up failure)."""
        with self._lock:
            if self._file is not None:
                self._file.write(text.rstrip("\n") + "\n")

    def route_ray_workers(self) -> None:
        """Take Ray's forwarded worker lines; call again once `ray.init` has run (it registers Ray's printer)."""
        try:
            from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
        except ImportError:  # Ray moved its internals: leave its printing as it is
            logging.getLogger(__name__).warning("cannot route Ray worker output to %s: Ray internals changed", self.path)
            return
        handlers = list(dispatcher.handlers)
        printers = [handler for name, handler in handlers if name == _RAY_PRINTER]
        if printers:
            self._printer = printers[0]
            dispatcher.remove_handler(_RAY_PRINTER)
        if not any(name == _HANDLER for name, _ in handlers):
            dispatcher.add_handler(_HANDLER, self._on_worker_lines)
        self._dispatcher = dispatcher

    def _on_worker_lines(self, data: dict[str, Any]) -> None:
        prefix = _worker_prefix(data)
        # The autoscaler's periodic status dump is in Ray's session logs already; Ray does not print it either.
        lines = [] if data.get("pid") == "autoscaler" else data.get("lines", [])
        with self._lock:
            if self._file is not None:
                for line in lines:
                    self._file.write(f"{prefix} {line}\n")
                    self.lines_written += 1
        if self.verbose and self._printer is not None:
            self._printer(data)

    def _quiet_prefect_console(self) -> None:
        self._restore_console = quiet_prefect_console(self.path)
        # The tracebacks the console leaves out go to the log file (the Prefect API gets them too).
        self._error_file_handler = logging.FileHandler(self.path, encoding="utf-8")
        self._error_file_handler.setLevel(logging.ERROR)
        self._error_file_handler.setFormatter(logging.Formatter("(driver) %(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(self._error_file_handler)

    def _quiet_ray_driver(self) -> None:
        # Ray's driver-side logger ("ray", its own stderr handler, no propagation): warnings such as
        # the local cluster's token-auth notice go to the log file; errors still reach the terminal.
        import ray  # noqa: F401 - its import installs the handler quieted here

        ray_logger = logging.getLogger("ray")
        self._ray_file_handler = logging.FileHandler(self.path, encoding="utf-8")
        self._ray_file_handler.setFormatter(logging.Formatter("(driver) %(asctime)s %(levelname)s %(name)s: %(message)s"))
        ray_logger.addHandler(self._ray_file_handler)
        for handler in ray_logger.handlers:
            if handler is not self._ray_file_handler and isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                self._console_levels.append((handler, handler.level))
                handler.setLevel(max(handler.level, logging.ERROR))

    def tail(self, lines: int = 15) -> list[str]:
        """The last lines of the log file (shown in the terminal when a run fails)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return [line.rstrip("\n") for line in f.readlines()[-lines:]]
        except OSError:
            return []
