#!/usr/bin/env bash
# sobre's models and eemeter 4.1.1 on the same year of data, one after the other in one run.
# Needs eemeter in a virtualenv (see eemeter_reference.py); EEMETER_PYTHON points at its python.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${EEMETER_PYTHON:-/tmp/ee/bin/python}"
cargo build --release -q -p sobre-models --example fit_memory
target/release/examples/fit_memory
"$python" -W ignore models/benches/eemeter_reference.py 2>/dev/null
