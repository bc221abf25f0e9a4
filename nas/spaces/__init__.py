"""Named search spaces: data set, teacher, student ranges and target."""

from pathlib import Path

from nas.errors import InvalidValue
from nas.spaces.cnn import CNN_DIGITS, CNN_PSD
from nas.spaces.digits import SPACE as DIGITS
from nas.spaces.mlp_gn import SPACE as MLP_GN
from nas.spaces.mlp_psd import SPACE as MLP_PSD
from nas.spaces.parts import PARTS, Part, get_part
from nas.spaces.public import BREAST_CANCER, GUNPOINT, WINE
from nas.spaces.schema import load_space_file
from nas.spaces.space import Space, StudentRanges, TrainingRecipe

SPACES: dict[str, Space] = {space.name: space for space in (MLP_PSD, MLP_GN, DIGITS, BREAST_CANCER,
                                                              WINE, GUNPOINT, CNN_PSD, CNN_DIGITS)}

__all__ = ["PARTS", "Part", "SPACES", "Space", "StudentRanges", "TrainingRecipe", "get_part",
           "get_space"]


def get_space(name: str) -> Space:
    """The built-in space ``name``, or the space in YAML file ``name`` (``*.yaml``/``*.yml``);
    ``InvalidValue`` listing the spaces otherwise."""
    if name.endswith((".yaml", ".yml")):
        return load_space_file(Path(name))
    try:
        return SPACES[name]
    except KeyError:
        raise InvalidValue("space", f"'{name}'", f"use one of {', '.join(SPACES)} or a YAML file "
                           f"(see 'nas spaces')", problem="is unknown") from None
