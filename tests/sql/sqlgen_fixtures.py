"""The spec's fixture table and small helpers shared by the SQL generator tests."""

from generators.sql.tables import build_table

SPEC_HEADER = ["team", "city", "founded", "titles"]
SPEC_ROWS = [["falcons", "oslo", "1921", "3"], ["herons", "bergen", "1934", "5"], ["lynx", "tromso", "1950", "1"]]


def spec_table():
    """Fixture table `w`: (falcons, oslo, 1921, 3), (herons, bergen, 1934, 5), (lynx, tromso, 1950, 1)."""
    return build_table("demo_teams", SPEC_HEADER, SPEC_ROWS)
