"""Optional oracle: apricot on a precomputed kernel (its cosine is cos², so we pass the kernel).

apricot breaks ties differently, so the kernel is continuous (no ties). apricot's
graph cut puts λ on the coverage term, the opposite of ours, so GC is not compared.
"""

import numpy as np
import pytest

from selection.greedy import run_greedy
from selection.kernels import cosine_kernel, normalize_rows
from selection.submodular import FacilityLocation


def test_facility_location_matches_apricot_on_a_continuous_kernel():
    apricot = pytest.importorskip("apricot")
    emb = normalize_rows(np.random.default_rng(0).standard_normal((80, 6)))
    kernel = cosine_kernel(emb, mode="clip").astype(np.float64)
    theirs = apricot.FacilityLocationSelection(10, metric="precomputed", optimizer="lazy").fit(kernel)
    ours = run_greedy(FacilityLocation(kernel), 10, "lazy")
    assert [int(i) for i in theirs.ranking] == ours.indices
    np.testing.assert_allclose(theirs.gains, ours.gains, rtol=1e-9)
