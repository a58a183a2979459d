#!/usr/bin/env python3
"""Hourly weather for the emulated office from blg_2_15min.csv (Dutch homes, 2021-10-25 to
2022-01-04): the mean of each local hour's four quarter-hours, stamped at the hour's start in UTC.

Input: naive local time (Europe/Amsterdam), Ta (outdoor air, degC), Ps (solar, taken as kW/m2).
Output: timestamp_utc,temp_c,ghi_wm2 (the format agent/src/sim/weather.rs reads).
ghi_wm2 = Ps * 1000 is an assumption: the source does not state the unit of Ps.
The autumn clock change (2021-10-31) lists 02:00-02:45 once; it is read as summer time (the
first of the two), so the second 02:00 hour is absent and the emulator interpolates over it.

Run from the repository root: python3 tests/data/nl_homes_thermal/weather_2021.py
"""
import csv
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "blg_2_15min.csv"
TARGET = HERE / "weather_2021.csv"
LOCAL = ZoneInfo("Europe/Amsterdam")


def main() -> None:
    hours: "OrderedDict[datetime, list[tuple[float, float]]]" = OrderedDict()
    with SOURCE.open(newline="") as f:
        for row in csv.DictReader(f):
            local = datetime.strptime(row["timestamp"], "%Y-%m-%d %H:%M:%S")
            hour = local.replace(minute=0, second=0)
            hours.setdefault(hour, []).append((float(row["Ta"]), float(row["Ps"])))
    with TARGET.open("w", newline="") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["timestamp_utc", "temp_c", "ghi_wm2"])
        for hour, values in hours.items():
            utc = hour.replace(tzinfo=LOCAL, fold=0).astimezone(timezone.utc)
            temp = sum(v[0] for v in values) / len(values)
            ghi = 1000.0 * sum(v[1] for v in values) / len(values)
            out.writerow([utc.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{temp:.2f}", f"{ghi:.1f}"])


if __name__ == "__main__":
    main()
