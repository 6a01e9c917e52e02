"""Generator parameters: one declaration gives the default, the allowed range, the check and its
message, so `llmaccel list`, the CLI's errors and each component's __init__ say the same thing."""
from dataclasses import dataclass


class ParamError(ValueError):
    """A generator parameter has a value outside what the block allows."""


@dataclass(frozen=True)
class Param:
    name: str
    default: int
    doc: str
    minimum: int
    maximum: int
    power_of_two: bool = False
    multiple_of: int = 1

    def allowed(self) -> str:
        if self.minimum == 0 and self.maximum == 1:
            return "0 or 1"
        if self.power_of_two:
            return f"a power of two from {self.minimum} to {self.maximum}"
        if self.multiple_of > 1:
            return f"a multiple of {self.multiple_of} from {self.minimum} to {self.maximum}"
        return f"an integer from {self.minimum} to {self.maximum}"

    def check(self, value) -> int:
        """Return `value` as an int, or raise ParamError naming the parameter, value and range."""
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok:
            ok = self.minimum <= value <= self.maximum and value % self.multiple_of == 0
            if self.power_of_two:
                ok = ok and value > 0 and value & (value - 1) == 0
        if not ok:
            raise ParamError(f"{self.name} must be {self.allowed()}, not {value!r}")
        return value


def resolve(params: tuple, given: dict) -> dict:
    """Merge `given` over the defaults of `params`, checking names and values."""
    by_name = {p.name: p for p in params}
    for name in given:
        if name not in by_name:
            raise ParamError(f"unknown parameter {name!r}; allowed: {', '.join(by_name)}")
    return {p.name: p.check(given.get(p.name, p.default)) for p in params}
