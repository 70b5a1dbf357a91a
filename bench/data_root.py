"""Where the benchmarks find the public datasets: ``$FUSECLI_DATA``, else ``../shared/data`` beside the checkout.

Layout (docs/benchmarks.md, "Data"): ``vif/<set>/{ir,vi}/NAME``, ``mef/<set>/<scene>/frames``,
``mff/<set>/{A,B}/NAME`` and ``mff/<set>/stacks/<scene>/frames``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT = Path(os.environ.get("FUSECLI_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
