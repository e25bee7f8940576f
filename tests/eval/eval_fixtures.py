"""Small real-looking tables and a run directory built from them, for the closed-loop tests."""

from __future__ import annotations

import os

import yaml

TABLES = {
    "harbours": [
        ["harbour", "country", "berths", "depth_m"],
        ["rotterdam", "netherlands", "120", "24"],
        ["antwerp", "belgium", "95", "16"],
        ["hamburg", "germany", "80", "15"],
        ["felixstowe", "uk", "30", "16"],
    ],
    "rivers": [
        ["river", "length_km", "outflow", "countries"],
        ["danube", "2850", "black sea", "10"],
        ["rhine", "1233", "north sea", "6"],
        ["elbe", "1094", "north sea", "2"],
        ["loire", "1006", "atlantic", "1"],
    ],
    "peaks": [
        ["peak", "range", "height_m", "first_ascent"],
        ["mont blanc", "alps", "4806", "1786"],
        ["matterhorn", "alps", "4478", "1865"],
        ["aneto", "pyrenees", "3404", "1842"],
        ["musala", "rila", "2925", "1900"],
    ],
}


def write_tables(root) -> list[dict]:
    sources = []
    for name, rows in TABLES.items():
        path = os.path.join(root, f"{name}.csv")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\n".join(",".join(r) for r in rows) + "\n")
        sources.append({"path": path})
    return sources


def sql_generator(root, tasks_per_table: int = 6, **extra) -> dict:
    return {"method": "sql_exec", "sources": write_tables(root), "tasks_per_table": tasks_per_table, "table_budget": 60, **extra}


def build_run_dir(root, formats=("messages", "prompt_completion"), **sql_extra) -> str:
    """A run dir as the pipeline leaves it (config.yaml + export/), from the SQL generator alone."""
    from generators.sql.config import SqlExecConfig
    from generators.sql.generator import SqlExecGenerator
    from taskmill.export import export_records

    run_dir = os.path.join(root, "run")
    os.makedirs(run_dir, exist_ok=True)
    generator_cfg = sql_generator(root, **sql_extra)
    config = {"name": "eval-test", "seed": 3, "generators": [generator_cfg]}
    with open(os.path.join(run_dir, "config.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(config, handle)
    generator = SqlExecGenerator(SqlExecConfig.model_validate(generator_cfg), 3)
    records = [r for shard in generator.plan_shards([]) for r in generator.run_shard(shard).kept]
    export_records(
        os.path.join(run_dir, "export"), records, formats=list(formats), dataset_name="eval-test",
        hf_dataset=False, mixture_table=[], summary={},
    )  # fmt: skip
    return run_dir
