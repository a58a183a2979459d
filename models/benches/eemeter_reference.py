"""eemeter 4.1.1 (the CalTRACK reference) on the data `cargo bench -p sobre-models --bench fit`
and `cargo run --release -p sobre-models --example fit_memory` use: building 33's electricity,
baseline 2018. Prints fit time and peak resident memory per model, each in a process of its own,
for the README's side-by-side. Not part of CI (it needs eemeter from PyPI):

    python3 -m venv /tmp/ee && /tmp/ee/bin/pip install eemeter==4.1.1 pytz pandas==2.2.3   # pytz: imported, undeclared; pandas 3 breaks 4.1.1
    /tmp/ee/bin/python models/benches/eemeter_reference.py
"""

import os
import resource
import subprocess
import sys
import time

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/data/cambridge_estates/ucam_b33_hourly.csv")


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(which):
    import pandas as pd
    from eemeter import eemeter  # the models live in eemeter.eemeter in 4.x

    started = peak_kib()
    df = pd.read_csv(DATA, parse_dates=["timestamp_utc"]).set_index("timestamp_utc")
    base = df.loc["2018-01-01":"2018-12-31"]
    meter = base["elec_kwh"]
    temperature = base["temp_c"] * 9 / 5 + 32  # eemeter works in °F
    t = time.perf_counter()
    if which == "daily":
        daily = meter.resample("D").sum(min_count=24)
        data = eemeter.DailyBaselineData.from_series(daily, temperature, is_electricity_data=True)
        eemeter.DailyModel().fit(data)
    else:
        data = eemeter.HourlyCaltrackBaselineData.from_series(meter, temperature, is_electricity_data=True)
        eemeter.HourlyCaltrackModel().fit(data)
    fit_ms = (time.perf_counter() - t) * 1000
    print(f"eemeter {which:<6} fit {fit_ms:8.1f} ms, peak RSS {peak_kib()} KiB (after imports and load {started} KiB)")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        run(sys.argv[1])
    else:
        for model in ("daily", "hourly"):
            subprocess.run([sys.executable, __file__, model], check=True)
