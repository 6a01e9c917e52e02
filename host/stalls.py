"""Seeded random stalls on the core's streams (each input and the output), the same in every
simulation back end (host/sim_backend.py in Python, host/fastsim.cpp in C++): one splitmix64 stream
per stream, one draw per clock cycle, a pause when the draw is below
`stall_threshold(probability)`. Drawing the same integers in both back ends is what lets them give
the same CYCLES under stalls."""
MASK = (1 << 64) - 1


def stall_threshold(probability: float) -> int:
    """The 64-bit threshold of a pause probability in [0, 1)."""
    if not isinstance(probability, (int, float)) or not 0 <= probability < 1:
        raise ValueError(f"stall probability must be in [0, 1), not {probability!r}")
    return int(probability * (1 << 64))


def stream_seeds(seed: int, inputs: int = 1) -> tuple[list[int], int]:
    """([each input stream's seed], output stream's seed) of a back end's seed; input stream i
    draws from its own sequence (input 0's and the output's are the same for any count)."""
    return ([(seed * 2 + (i << 33)) & MASK for i in range(inputs)], (seed * 2 + 1) & MASK)


def splitmix64(state: int):
    """splitmix64's outputs from `state` (the generator fastsim.cpp's SplitMix64 is)."""
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def pauses(seed: int, probability: float):
    """One bool per clock cycle: pause this cycle."""
    threshold = stall_threshold(probability)
    draws = splitmix64(seed)
    while True:
        yield threshold != 0 and next(draws) < threshold
