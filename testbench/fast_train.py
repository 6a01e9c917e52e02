"""The training run of the fast co-simulation's profile-guided build (testbench/fast_build.py):
`python -m llmaccel.testbench.fast_train LIBRARY` drives the instrumented library with decode-
and prefill-like shapes on both engines, then a few random calls with stalls, and checks every
result against the golden models (a training run that computes wrong numbers is a failed build).
The compiler's profile is written when the process exits."""
import sys

from llmaccel.host.driver import Accelerator
from llmaccel.host.fast_backend import FastBackend
from llmaccel.testbench.backend_calls import run_calls, shape_runs

SHAPES = [("bfp", 1, 256, 576), ("bfp", 4, 64, 576), ("ternary", 1, 256, 1536),
          ("ternary", 4, 64, 576)]


def main(library: str) -> None:
    backend = FastBackend(library)
    backend.reset()
    acc = Accelerator(backend)
    shape_runs(acc, SHAPES, seed=1)
    backend.set_stall(0.3, seed=2)
    run_calls(acc, lambda: backend.cycle, seed=3, cases=2)
    print(f"trained on {backend.cycle} cycles")


if __name__ == "__main__":
    main(sys.argv[1])
