"""What a build composes onto patrol-view frames: the `compose:` entries of a dataset config."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PositiveInt, model_validator

from datasets.importers import SourceConfig


def _ordered(value: tuple[float, float]) -> tuple[float, float]:
    if not 0 <= value[0] <= value[1]:
        raise ValueError(f"a range is (low, high) with 0 <= low <= high, got {value}")
    return value


Range = Annotated[tuple[float, float], AfterValidator(_ordered)]
SyntheticKind = Literal["illegal_ad", "dirty_facade", "street_stall"]


class CutoutSpec(BaseModel):
    """Real objects cut out of labelled photos of a build's sources and stood on the patrol view's ground."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(description="taxonomy class of the boxes cut out; the pasted object keeps it")
    sources: tuple[str, ...] = Field(min_length=1, description="sources (in the build) whose boxes are cut out")
    height_m: Range = Field(description="real height range (metres) the object is given where it stands")
    min_side_px: PositiveInt = Field(default=24, description="smallest box side (donor pixels) worth cutting out")
    max_image_share: float = Field(
        default=0.35,
        gt=0.0,
        le=1.0,
        description="largest share of its photo a box may cover: a close-up has no surroundings to feather into",
    )


class ComposeSpec(BaseModel):
    """Objects placed at patrol-view sizes onto one source's frames, then cut into tiles at the model's size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backgrounds: str = Field(description="name of the source whose frames are the patrol view")
    splits: tuple[Literal["train", "val"], ...] = Field(
        default=("train",), min_length=1, description="splits of the frames composed onto (tiles keep the split)"
    )
    per_background: PositiveInt = Field(default=1, description="composed versions of each frame")
    max_backgrounds: PositiveInt | None = Field(default=None, description="random subset of the frames")
    frame_size: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="(height, width) the composed frame is brought to before cutting: the camera's"
    )
    tile_size: PositiveInt = Field(default=640, description="square tile side in pixels: the model's input size")
    overlap: float = Field(default=0.2, ge=0.0, lt=1.0, description="least share of a tile's side shared")
    min_visible: float = Field(
        default=0.3, gt=0.0, le=1.0, description="share of a box's area a tile must show for the box to be kept"
    )
    horizon: Range = Field(
        default=(0.33, 0.42), description="row of the horizon as a share of the frame's height, drawn per frame"
    )
    camera_height_m: Range = Field(default=(1.5, 2.0), description="the camera's height above the road (metres)")
    right_m: Range = Field(
        default=(2.5, 10.0),
        description="how far (metres) right of the camera's axis ground objects stand there: past the car's lane, "
        "on the kerb and sidewalk (right-hand traffic, as in China and Riyadh)",
    )
    left_m: Range = Field(
        default=(8.0, 20.0),
        description="how far (metres) left of the camera's axis ground objects stand there: past the oncoming lanes",
    )
    min_height_px: PositiveInt = Field(
        default=14, description="smallest object height in the camera's pixels (frame_size): the farthest it goes"
    )
    ground_classes: tuple[str, ...] = Field(
        default=(), description="source classes lying on the ground: the horizon is kept above their bottoms"
    )
    walls_m: dict[str, float] = Field(
        default_factory=dict,
        description="source classes lying on walls, with their typical height (metres): ads and stains go beside "
        "them on the same wall, scaled by their pixels per metre; frames without one get no wall objects",
    )
    cutouts: tuple[CutoutSpec, ...] = Field(default=(), description="real objects cut out of other sources")
    synthetic: tuple[SyntheticKind, ...] = Field(
        default=(), description="synthetic objects: ads and stains on walls, rendered stalls on the ground"
    )
    renders: PositiveInt = Field(default=160, description="street_stall: the render library (shared with builds)")
    max_objects: PositiveInt = Field(default=3, description="most objects placed on one frame")

    @model_validator(mode="after")
    def _something_to_place(self) -> ComposeSpec:
        if not self.cutouts and not self.synthetic:
            raise ValueError("a compose entry needs cutouts or synthetic objects to place")
        if any(height <= 0 for height in self.walls_m.values()):
            raise ValueError(f"wall reference heights must be > 0 m, got {self.walls_m}")
        if self.horizon[1] >= 1.0:
            raise ValueError(f"the horizon must lie inside the frame (a share < 1), got {self.horizon}")
        return self

    def source_names(self) -> tuple[str, ...]:
        """Every source this entry reads: the backgrounds, then the cut-outs' donors."""
        donors = (name for cutout in self.cutouts for name in cutout.sources)
        return tuple(dict.fromkeys((self.backgrounds, *donors)))


def check_sources(spec: ComposeSpec, sources: dict[str, SourceConfig], class_names: tuple[str, ...]) -> None:
    """Refuse an entry that names a source not in the build, a class its source lacks, or an unknown label."""
    missing = [name for name in spec.source_names() if name not in sources]
    if missing:
        raise ValueError(f"compose: sources {missing} are not in this build's sources {sorted(sources)}")
    background = sources[spec.backgrounds]
    unknown = [name for name in (*spec.ground_classes, *spec.walls_m) if name not in background.classes]
    if unknown:
        raise ValueError(f"compose: {unknown} are not classes of {background.name}: {list(background.classes)}")
    labels = [cutout.label for cutout in spec.cutouts if cutout.label not in class_names]
    if labels:
        raise ValueError(f"compose: cut-out labels {labels} are not taxonomy classes {list(class_names)}")
