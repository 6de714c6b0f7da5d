"""The echo sample with one change: msrest's ClientRetryPolicy.safe_codes as a frozenset, the
floor of what this stack costs per turn. Everything else is the sample, unchanged.

    cd bench/baselines/echo_bot && python ../echo_floor.py
"""

import runpy
import sys
from pathlib import Path

from msrest.universal_http.requests import ClientRetryPolicy

ClientRetryPolicy.safe_codes = frozenset(ClientRetryPolicy.safe_codes)

SAMPLE = Path(__file__).resolve().parent / "echo_bot"
sys.path.insert(0, str(SAMPLE))
runpy.run_path(str(SAMPLE / "app.py"), run_name="__main__")
