"""The default table source: real tables that ship inside installed packages.

scikit-learn and statsmodels install small real data sets as files next to
their code. We read those files where they lie (never copying data into the
repository), so `taskmill run` works offline with no table config. A package
that is not installed simply contributes no tables.
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
from pathlib import Path
from typing import Any, Callable

from generators.sql.tables import read_csv

Loader = Callable[[Path], tuple[list[str], list[list[Any]]]]


def _package_dir(package: str) -> Path | None:
    # find_spec on a top-level name locates the package without importing it:
    # importing statsmodels.datasets would load pandas and every dataset module.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _plain(relative: str, delimiter: str = ",") -> Loader:
    def load(root: Path) -> tuple[list[str], list[list[Any]]]:
        return read_csv(root / relative, delimiter)

    return load


def _split_lines(path: Path) -> list[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.split() for line in handle if line.strip()]


def _sklearn_labelled(relative: str, features: list[str], keep: list[int], label: str) -> Loader:
    """sklearn's iris/wine files: a first line `n,k,name0,name1,...`, then features + class index."""

    def load(root: Path) -> tuple[list[str], list[list[Any]]]:
        with open(root / relative, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            names = next(reader)[2:]
            rows = [[row[i] for i in keep] + [names[int(row[-1])]] for row in reader if row]
        return [features[i] for i in keep] + [label], rows

    return load


def _linnerud(root: Path) -> tuple[list[str], list[list[Any]]]:
    exercise = _split_lines(root / "linnerud_exercise.csv")
    physiological = _split_lines(root / "linnerud_physiological.csv")
    header = exercise[0] + physiological[0]
    return header, [a + b for a, b in zip(exercise[1:], physiological[1:])]


def _diabetes(root: Path) -> tuple[list[str], list[list[Any]]]:
    data = _split_lines(root / "diabetes_data_raw.csv.gz")
    target = _split_lines(root / "diabetes_target.csv.gz")
    header = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "progression"]
    return header, [row + [str(float(t[0]))] for row, t in zip(data, target)]


_WINE = [
    "alcohol", "malic acid", "ash", "alcalinity of ash", "magnesium", "total phenols", "flavanoids",
    "nonflavanoid phenols", "proanthocyanins", "color intensity", "hue", "od280/od315", "proline",
]  # fmt: skip
_IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]

# name → (package, folder inside the package, loader)
BUNDLED: dict[str, tuple[str, str, Loader]] = {
    "sklearn/iris": ("sklearn", "datasets/data", _sklearn_labelled("iris.csv", _IRIS, [0, 1, 2, 3], "species")),
    "sklearn/wine": (
        "sklearn", "datasets/data", _sklearn_labelled("wine_data.csv", _WINE, [0, 1, 2, 4, 5, 9, 10, 12], "cultivar")
    ),
    "sklearn/linnerud": ("sklearn", "datasets/data", _linnerud),
    "sklearn/diabetes": ("sklearn", "datasets/data", _diabetes),
    "statsmodels/china_smoking": ("statsmodels", "datasets/china_smoking", _plain("china_smoking.csv")),
    "statsmodels/committee": ("statsmodels", "datasets/committee", _plain("committee.csv")),
    "statsmodels/cpunish": ("statsmodels", "datasets/cpunish", _plain("cpunish.csv")),
    "statsmodels/grunfeld": ("statsmodels", "datasets/grunfeld", _plain("grunfeld.csv")),
    "statsmodels/scotvote": ("statsmodels", "datasets/scotland", _plain("scotvote.csv")),
    "statsmodels/statecrime": ("statsmodels", "datasets/statecrime", _plain("statecrime.csv")),
    "statsmodels/longley": ("statsmodels", "datasets/longley", _plain("longley.csv")),
    "statsmodels/copper": ("statsmodels", "datasets/copper", _plain("copper.csv")),
    "statsmodels/nile": ("statsmodels", "datasets/nile", _plain("nile.csv")),
    "statsmodels/stackloss": ("statsmodels", "datasets/stackloss", _plain("stackloss.csv")),
    "statsmodels/elnino": ("statsmodels", "datasets/elnino", _plain("elnino.csv")),
    "statsmodels/macrodata": ("statsmodels", "datasets/macrodata", _plain("macrodata.csv")),
}  # fmt: skip


def bundled_names() -> list[str]:
    """Bundled tables whose package is installed, in a fixed order."""
    out = []
    for name, (package, folder, _) in BUNDLED.items():
        root = _package_dir(package)
        if root is not None and (root / folder).is_dir():
            out.append(name)
    return out


def read_bundled(name: str) -> tuple[list[str], list[list[Any]]]:
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled table {name!r}; allowed: {sorted(BUNDLED)}")
    package, folder, load = BUNDLED[name]
    root = _package_dir(package)
    if root is None:
        raise ValueError(f"bundled table {name!r} needs the package {package!r}, which is not installed")
    return load(root / folder)
