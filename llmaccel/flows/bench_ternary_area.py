"""Area sweep of the ternary engine core (issue 3 work in progress): LUT per peak MAC/cycle from
Yosys synth_xilinx for the XC7Z020, per configuration. Not yet part of `make bench`.

    .venv/bin/python -m llmaccel.flows.bench_ternary_area "g=3,lanes=64" "g=1,lanes=16" ...
"""
import json
import sys
from pathlib import Path

from llmaccel.flows.synth import synthesize
from llmaccel.generators.emit import to_verilog
from llmaccel.generators.params import ParamError
from llmaccel.generators.ternary_engine import TernaryEngine


def measure(params: dict) -> dict:
    engine = TernaryEngine(**params)
    name = "ternary_engine_" + "_".join(f"{k}{v}" for k, v in sorted(params.items()))
    work = Path("build") / "synth" / name
    report = synthesize(to_verilog(engine, name), name, work)
    peak = engine.lanes * engine.g * engine.rows
    return {"params": params, "peak_mac_per_cycle": peak, "lut": report["lut_total"],
            "lutram": report["lutram"], "ff": report["ff"],
            "lut_per_peak_mac": round(report["lut_total"] / peak, 2),
            "logic_levels": report["logic_levels"]}


def main(argv):
    for spec in argv or ["g=1,lanes=16", "g=2,lanes=16", "g=3,lanes=16", "g=3,lanes=64"]:
        try:
            params = {k: int(v) for k, v in (item.split("=") for item in spec.split(","))}
            print(json.dumps(measure(params)), flush=True)
        except (ValueError, ParamError) as e:
            print(f"bench_ternary_area: error: {spec!r}: {e}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
