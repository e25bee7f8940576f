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


# Plain prose, one topic per document: sentences of 6-40 tokens without quotes or markup.
DOCUMENTS = [
    "The river carries cold water from the mountains to the sea. Boats move grain and timber along the wide valley. "
    "Farmers plant barley on the terraces above the old town.",
    "A lighthouse stands on the rocky point at the harbour mouth. Its lamp turns once every ten seconds at night. "
    "Sailors count the flashes to know which coast they see.",
    "The library opens early on market days for the traders. Readers borrow maps, ledgers and books about distant ports. "
    "A clerk writes every loan into a heavy brown register.",
    "Bees gather nectar from clover and heather in late summer. The keeper lifts each frame slowly to check the brood. "
    "Honey from the high meadows tastes of thyme and smoke.",
]


def chain_generator(**extra) -> dict:
    return {"method": "sifo_chain", "chains_per_document": 3, "lengths": [2, 3], **extra}


def build_chain_run_dir(root, with_sql: bool = False, formats=("messages",)) -> str:
    """A run dir with a `sifo_chain` stage over `DOCUMENTS` (and the SQL stage when `with_sql`)."""
    from generators.chains.config import SifoChainConfig
    from generators.chains.sifo import SifoChainGenerator
    from taskmill.export import export_records
    from taskmill.sources import SourceConfig, load_source

    run_dir = os.path.join(root, "run")
    os.makedirs(run_dir, exist_ok=True)
    source = {"kind": "inline", "texts": DOCUMENTS}
    generators = [chain_generator()] + ([sql_generator(root)] if with_sql else [])
    with open(os.path.join(run_dir, "config.yaml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"name": "eval-chains", "seed": 5, "sources": [source], "generators": generators}, handle)
    documents = load_source(SourceConfig.model_validate(source))[0]
    chains = SifoChainGenerator(SifoChainConfig.model_validate(generators[0]), 5)
    records = [r for shard in chains.plan_shards(documents) for r in chains.run_shard(shard).kept]
    if with_sql:
        from generators.sql.config import SqlExecConfig
        from generators.sql.generator import SqlExecGenerator

        sql = SqlExecGenerator(SqlExecConfig.model_validate(generators[1]), 5)
        records += [r for shard in sql.plan_shards([]) for r in sql.run_shard(shard).kept]
    export_records(
        os.path.join(run_dir, "export"), records, formats=list(formats), dataset_name="eval-chains",
        hf_dataset=False, mixture_table=[], summary={},
    )  # fmt: skip
    return run_dir


def exported_sources(run_dir: str) -> dict[str, str]:
    """{record id: source_id} of a run directory's exported records."""
    import pyarrow.parquet as pq

    from taskmill.records import from_table

    records = from_table(pq.read_table(os.path.join(run_dir, "export", "records.parquet")))
    return {r["id"]: r["source_id"] for r in records}
