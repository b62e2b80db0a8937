"""The ``postgres`` marker selects exactly the variants that need PostgreSQL.

Collected in a pytest of its own over a module of API tests, each of which runs on
"sqlite" and on "postgres+redis": ``-m postgres`` must select every postgres+redis
variant and nothing else, and leave out (deselect) as many sqlite variants.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests/api/test_login.py"
PYTEST = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]


def test_the_postgres_marker_selects_the_postgres_variants_only() -> None:
    result = subprocess.run(
        [*PYTEST, "-m", "postgres", MODULE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    selected = [line for line in result.stdout.splitlines() if line.startswith(MODULE + "::")]
    counts = re.search(r"(\d+)/(\d+) tests collected \((\d+) deselected\)", result.stdout)
    assert counts, result.stdout

    assert selected, "no postgres variant was collected"
    assert all("postgres+redis" in test_id for test_id in selected), selected
    chosen, total, deselected = map(int, counts.groups())
    assert chosen == len(selected) == deselected  # and as many sqlite twins left out
    assert total == chosen + deselected
