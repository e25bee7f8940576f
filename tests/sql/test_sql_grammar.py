"""Spec test 3 (column mapping), type-safe bound literals, every shape executes."""

import random
from collections import Counter

import pytest

from generators.sql.execute import TableView
from generators.sql.grammar import SHAPES, VAR_TYPES, NoCompatibleMapping, Template, sample_template
from generators.sql.instantiate import instantiate, map_columns
from generators.sql.tables import build_table

HEADER = ["player", "team", "goals", "minutes", "joined", "rating"]


def mixed_table():
    rng = random.Random(7)
    rows = []
    for i in range(40):
        rows.append([
            f"player {i}", rng.choice(["red", "blue", "o'neil fc", "green"]), str(rng.randint(0, 12)),
            str(rng.randint(100, 3000)), f"20{rng.randint(10, 23)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            f"{rng.uniform(5, 9):.2f}",
        ])  # fmt: skip
    return build_table("mixed", HEADER, rows)


def type_counts(table):
    return Counter(c.type for c in table.columns)


def test_inferred_types():
    assert [c.type for c in mixed_table().columns] == ["text", "text", "number", "number", "date", "number"]


def sampled_mappings(table, seeds: int):
    """(template, mapping, rng) for every seed whose sampled template maps onto the table."""
    for seed in range(seeds):
        rng = random.Random(seed)
        try:
            template = sample_template(rng, type_counts(table))
            mapping = map_columns(template.variables, table, rng)
        except NoCompatibleMapping:
            continue
        yield template, mapping, rng


def test_numeric_never_maps_to_text_and_mapping_is_injective():
    table = mixed_table()
    for _, mapping, _ in sampled_mappings(table, 300):
        for var, column in mapping.items():
            assert column.type == VAR_TYPES[var[0]]
        assert len({c.sql_name for c in mapping.values()}) == len(mapping)


def test_repeated_variable_maps_to_one_column():
    table = mixed_table()
    tokens = [
        ("k", "select"), ("k", "("), ("k", "select"), ("k", "max("), ("c", "n0", "n"), ("k", ")"), ("x", "from w"),
        ("k", ")"), ("k", "-"), ("k", "("), ("k", "select"), ("k", "min("), ("c", "n0", "n"), ("k", ")"),
        ("x", "from w"), ("k", "where"), ("c", "t0", "n"), ("k", "="), ("l", 0, "t0", "cell", None), ("k", ")"),
    ]  # fmt: skip
    template = Template("arithmetic", tokens, 3, None, ["n0", "t0"])
    for seed in range(20):
        rng = random.Random(seed)
        mapping = map_columns(template.variables, table, rng)
        query = instantiate(template, mapping, TableView(table, range(table.n_rows)), rng)
        column = mapping["n0"].num_name
        assert query.sql.count(column + ")") == 2
        assert query.sql.startswith(f"select (select max({column}) from w) - (select min({column}) from w where")
        assert query.encoded.count(mapping["n0"].header) == 2 and "from w" not in query.encoded


def test_too_few_columns_is_no_compatible_mapping():
    table = build_table("two", ["a", "b"], [["1", "2"]])
    with pytest.raises(NoCompatibleMapping):
        map_columns(["n0", "n1", "n2"], table, random.Random(0))
    with pytest.raises(NoCompatibleMapping):
        map_columns(["t0"], table, random.Random(0))


def test_literals_are_typed_and_bound():
    table = mixed_table()
    view = TableView(table, range(table.n_rows))
    seen = Counter()
    for template, mapping, rng in sampled_mappings(table, 400):
        query = instantiate(template, mapping, view, rng)
        assert "'" not in query.sql  # every literal is a `?` parameter
        assert query.sql.count("?") == len(query.params)
        for col_type, value in query.literals.values():
            values = value if isinstance(value, list) else [value]
            for v in values:
                seen[col_type] += 1
                if col_type == "number":
                    assert isinstance(v, (int, float)) and not isinstance(v, bool)
                else:
                    assert isinstance(v, str)
                if col_type == "date":
                    assert len(v) == 10 and v[4] == "-" and v[7] == "-"
    assert seen["number"] and seen["text"] and seen["date"]


def test_quotes_in_literals_are_escaped_in_encoded_sql():
    table = mixed_table()
    view = TableView(table, range(table.n_rows))
    tokens = [("k", "select"), ("c", "t0", "v"), ("x", "from w"), ("k", "where"), ("c", "t1", "n"), ("k", "="), ("l", 0, "t1", "cell", None)]
    template = Template("project", tokens, 1, None, ["t0", "t1"])
    for seed in range(40):
        rng = random.Random(seed)
        mapping = map_columns(template.variables, table, rng)
        query = instantiate(template, mapping, view, rng)
        if query.params == ["o'neil fc"]:
            assert query.encoded.endswith("= 'o''neil fc'")
            assert view.run(query.sql, query.params, max_answers=40).answers
            break
    else:
        pytest.fail("no seed drew the quoted cell")


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_executes(shape):
    table = mixed_table()
    view = TableView(table, range(table.n_rows))
    outcomes = Counter()
    for seed in range(60):
        rng = random.Random(seed)
        template = sample_template(rng, type_counts(table), {shape: 1.0})
        assert template.shape == shape and template.clauses >= 1
        query = instantiate(template, map_columns(template.variables, table, rng), view, rng)
        result = view.run(query.sql, query.params)
        assert result.reason not in ("sql_error", "timeout"), (query.sql, result.detail)
        if query.tie_sql:
            assert view.tied(query.tie_sql, query.tie_params) in (True, False)
        outcomes[result.reason] += 1
    assert outcomes[None] >= 5


def test_project_difficulty_counts_conditions():
    table = mixed_table()
    for seed in range(50):
        template = sample_template(random.Random(seed), type_counts(table), {"project": 1.0})
        conditions = sum(1 for t in template.tokens if t[0] == "c" and t[2] == "n")
        assert template.clauses == conditions
