"""Target FPGA parts and their resource budgets (from the vendors' product tables)."""

import re
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
        Part("xc7z010", "xc7", lut=17_600, ff=35_200, dsp=80, bram36=60, package="clg400-1"),
        Part("xc7z020", "xc7", lut=53_200, ff=106_400, dsp=220, bram36=140, package="clg400-1"),
        Part("xczu3eg", "xczu", lut=70_560, ff=141_120, dsp=360, bram36=216,
             package="-sbva484-1-e"),
        Part("xck26", "xczu", lut=117_120, ff=234_240, dsp=1_248, bram36=144,
             package="-sfvc784-2LV-c"),
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


#: Families of vendor parts by their DSP slice: 7-series (DSP48E1, a 25 x 18 multiplier) and
#: UltraScale/UltraScale+ (DSP48E2, 27 x 18).
DSP_PORTS = {"xc7": (25, 18), "ultrascale": (27, 18)}
#: Part-name prefixes of each family (AMD naming; an ``xq``/``xa`` prefix is read as ``xc``).
_FAMILY_PREFIXES = {"xc7": ("xc7",),
                    "ultrascale": ("xcku", "xcvu", "xczu", "xcu", "xcau", "xck2")}
#: 7-series devices with the Artix-class fabric (the slower 7-series logic).
_SLOW_FABRIC = ("xc7a", "xc7s", "xc7z007", "xc7z010", "xc7z012", "xc7z014", "xc7z015", "xc7z020")


def _canonical(part: str) -> str:
    name = part.strip().lower()
    return "xc" + name[2:] if name.startswith(("xq", "xa")) else name


def part_family(part: str) -> str | None:
    """``xc7`` or ``ultrascale`` for an AMD part name, None for any other part."""
    name = _canonical(part)
    return next((family for family, prefixes in _FAMILY_PREFIXES.items()
                 if name.startswith(prefixes)), None)


def delay_scale(part: str) -> float:
    """Logic delay of ``part`` relative to a -1 Artix-7, from its fabric and speed grade.

    Approximate ratios of the data sheets' switching characteristics: Kintex/Virtex-7 fabric
    0.85, UltraScale(+) 0.7 of Artix-class 7-series; speed grade -2 0.88, -3 0.78 of -1 (a
    low-power ``L`` grade as its number). Parts without a readable grade are taken as -1.
    """
    name = _canonical(part)
    fabric = 0.7 if part_family(name) == "ultrascale" else (
        1.0 if name.startswith(_SLOW_FABRIC) else 0.85)
    grade = re.search(r"-(\d)[a-z]*(-[a-z])?$", name) or re.search(r"-(\d)", name[4:])
    return fabric * {1: 1.0, 2: 0.88, 3: 0.78}.get(int(grade.group(1)) if grade else 1, 1.0)
