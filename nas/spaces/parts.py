"""Target FPGA parts and their resource budgets (from the vendors' product tables)."""

from dataclasses import dataclass

from nas.errors import InvalidValue


@dataclass(frozen=True)
class Part:
    """One FPGA part: what a design may use of it."""

    name: str
    family: str
    lut: int
    ff: int
    dsp: int
    bram36: int
    package: str = ""

    @property
    def full_name(self) -> str:
        """The vendor tools' part name (device, package, speed grade)."""
        return self.name + self.package

    @property
    def luts_per_dsp(self) -> float:
        """LUT-equivalent of one DSP slice: the LUTs that make up the same share of the chip."""
        return self.lut / self.dsp


PARTS: dict[str, Part] = {
    part.name: part
    for part in (
        Part("xc7a35t", "xc7", lut=20_800, ff=41_600, dsp=90, bram36=50, package="cpg236-1"),
        Part("xc7a100t", "xc7", lut=63_400, ff=126_800, dsp=240, bram36=135, package="csg324-1"),
        Part("xc7z020", "xc7", lut=53_200, ff=106_400, dsp=220, bram36=140, package="clg400-1"),
        Part("xczu3eg", "xczu", lut=70_560, ff=141_120, dsp=360, bram36=216,
             package="-sbva484-1-e"),
        Part("xcu250", "xcu", lut=1_728_000, ff=3_456_000, dsp=12_288, bram36=2_688,
             package="-figd2104-2L-e"),
    )
}


def get_part(name: str) -> Part:
    """The part called ``name``; ``InvalidValue`` naming the supported parts otherwise."""
    key = name.lower().split("-")[0]
    for prefix, part in PARTS.items():
        if key.startswith(prefix):
            return part
    raise InvalidValue("part", f"'{name}'", f"use one of {', '.join(PARTS)}", problem="is unknown")
