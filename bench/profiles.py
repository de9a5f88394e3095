"""``python -m pytest_tflite_latency.bench.profiles``: kept as the command the bundled profiles name in
provenance["regenerate"]; the code is in `bench.build_profiles`."""

import sys

from pytest_tflite_latency.bench.build_profiles import main

if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
