"""Demo council generator: a fictional council's statutory files, deterministic and fast.

``generate(out_dir, seed=1, years=5, scale=1.0, as_at=date(2026, 10, 31), faults="normal",
geography=None)`` writes the layout of docs/data_model.md section 1; ``make_geography``
builds contiguous fictional wards/LSOAs (also for benchmarks); ``RealGeography.from_files``
reads a real council's published geography so synthetic children can be placed on it.
See data/README.md for every file, column and code.
"""

from .generator import collection_year_of, generate
from .geography import Geography, RealGeography, make_geography

__all__ = ["generate", "RealGeography", "make_geography", "Geography", "collection_year_of"]
