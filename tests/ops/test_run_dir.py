"""Run-dir safety: one process per run dir (lock), no temp files left by a full disk, export replaced whole."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT
from taskmill.records import to_table
from taskmill.store import RunLockedError, RunStore, run_lock, staged_directory

SECOND_PROCESS = """
import sys
from taskmill.store import run_lock, RunLockedError
try:
    with run_lock(sys.argv[1], float(sys.argv[2])):
        print("ACQUIRED")
except RunLockedError as exc:
    print("LOCKED", exc)
"""


def _second(run_dir: str, wait_s: float) -> str:
    done = subprocess.run([sys.executable, "-c", SECOND_PROCESS, run_dir, str(wait_s)], env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=120)
    return done.stdout.strip()


def test_second_process_exits_with_a_clear_message_or_waits(tmp_path):
    run_dir = str(tmp_path / "run")
    with run_lock(run_dir):
        out = _second(run_dir, 0)
        assert out.startswith("LOCKED") and f"run directory {run_dir} is in use by another taskmill process (pid {os.getpid()}" in out

    # A waiting second process gets the lock once the first lets go.
    held = threading.Event()

    def hold():
        with run_lock(run_dir):
            held.set()
            time.sleep(2)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    assert _second(run_dir, 60) == "ACQUIRED"
    thread.join()


def test_lock_of_a_killed_process_is_free(tmp_path):
    run_dir = str(tmp_path / "run")
    child = subprocess.Popen([sys.executable, "-c", "import sys,time\nfrom taskmill.store import run_lock\nwith run_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)", run_dir],
                             env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError):
        with run_lock(run_dir):
            pass
    child.kill()
    child.wait()
    with run_lock(run_dir):  # the OS released it with the process
        pass


def _record(i: int) -> dict:
    return {"id": f"r{i}", "method": "m", "instruction": f"q{i}", "input": "", "output": f"a{i}", "source_id": "s", "model": "none"}


def test_disk_full_leaves_no_temp_shard_and_next_start_cleans(tmp_path, monkeypatch):
    import taskmill.store as store_module

    store = RunStore(str(tmp_path / "run"))
    real_write = store_module.pq.write_table

    def disk_full(table, sink, **kw):
        sink.write(b"PAR1 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.write_shard("generated/x", 0, to_table([_record(0)]))
    monkeypatch.setattr(store_module.pq, "write_table", real_write)
    assert os.listdir(store.path("generated/x")) == []
    assert not store.has_shard("generated/x", 0)

    # What a SIGKILLed process leaves behind is removed when the next run opens the store.
    leftovers = [store.path("generated/x/.tmp-dead.parquet"), store.path("manifest.json.tmp-dead")]
    for path in leftovers:
        open(path, "wb").close()
    os.makedirs(store.path("export.staging-dead/train"))
    store.write_shard("generated/x", 1, to_table([_record(1)]))
    assert sorted(store.remove_temp_files()) == sorted(leftovers + [store.path("export.staging-dead")])
    assert os.listdir(store.path("generated/x")) == ["shard-00001.parquet"]
    assert os.listdir(store.root) == ["generated"]


def test_failed_export_keeps_the_previous_export_whole(tmp_path, monkeypatch):
    from taskmill.export import export_records

    out = str(tmp_path / "export")
    records = [{**_record(i), "reject_reason": None} for i in range(3)]
    kwargs = dict(formats=["messages"], dataset_name="t", hf_dataset=False, mixture_table=[], summary={"run_id": "t"})
    paths = export_records(out, records, **kwargs)
    before = {name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out)}
    assert {"records.parquet", "messages.jsonl", "README.md", "mixture.json"} <= set(before)
    assert paths["messages"] == os.path.join(out, "messages.jsonl")

    import taskmill.export as export_module

    def full(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "dataset_card", full)
    with pytest.raises(OSError):
        export_records(out, records[:1], **kwargs)
    assert {name: open(os.path.join(out, name), "rb").read() for name in os.listdir(out)} == before
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no staging dir left


def test_staged_directory_replaces_only_on_success(tmp_path):
    final = tmp_path / "out"
    with staged_directory(str(final)) as staging:
        open(os.path.join(staging, "a"), "w").write("1")
    with pytest.raises(RuntimeError):
        with staged_directory(str(final)) as staging:
            open(os.path.join(staging, "a"), "w").write("2")
            raise RuntimeError("boom")
    assert open(final / "a").read() == "1" and os.listdir(tmp_path) == ["out"]
