"""Render street stalls in 3D with Blender (`bpy`), one RGBA sprite + JSON record per stall.

Runs in its own interpreter (`.venv-render`, set up by `scripts/setup.sh render`): bpy pins numpy 1.26 and must not
share a venv with the project. Nothing here imports the rest of the package.

    .venv-render/bin/python datasets/synthetic/stall_scene.py JOB.json

JOB.json: {"out": folder, "seed": int, "count": int, "first": int, "size": px, "samples": int, "font": path,
"texts": [...]}. For sprite i (first <= i < first + count) it writes `stall-<i>.png` (RGBA, straight alpha: the
stall and, semi-transparent black, its shadow on the ground) and `stall-<i>.json`: the stall's box in the sprite
(every vertex projected), the foot point (centre of its footprint on the ground), pixels per metre at the foot,
the camera's height, distance and elevation angle, the sun, and the parts it is made of. Every random choice
comes from `random.Random(f"{seed}:{i}")`, so a sprite depends only on the seed and its index.

Stall kinds, as seen on Chinese streets and night markets: a table with goods under a big striped parasol; a flatbed
tricycle (三轮车) loaded with produce, sometimes with its own parasol; a pop-up canopy tent over a table; a food
cart with a lettered sign board and an awning.
"""

from __future__ import annotations

import json
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import bpy  # type: ignore[import-not-found]
from bpy_extras.object_utils import world_to_camera_view  # type: ignore[import-not-found]
from mathutils import Vector  # type: ignore[import-not-found]
from PIL import Image, ImageDraw, ImageFont

KINDS = ("parasol_table", "tricycle", "canopy", "food_cart")

# Colours of real stall things (linear-ish RGB in 0..1): parasol and tent fabric, table cloths, produce, crates.
FABRIC = [(0.8, 0.05, 0.04), (0.05, 0.15, 0.6), (0.9, 0.6, 0.02), (0.9, 0.9, 0.88), (0.05, 0.4, 0.12), (0.5, 0.02, 0.3)]
PRODUCE = [
    (0.75, 0.08, 0.03),
    (0.9, 0.4, 0.02),
    (0.85, 0.7, 0.05),
    (0.25, 0.55, 0.06),
    (0.4, 0.05, 0.2),
    (0.6, 0.45, 0.2),
]
CRATE = [(0.05, 0.25, 0.6), (0.7, 0.1, 0.05), (0.1, 0.45, 0.15), (0.85, 0.65, 0.05)]


class Builder:
    """Adds simple meshes with materials to the current scene and remembers what it added."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.objects: list[Any] = []
        self.parts: list[str] = []

    def material(
        self,
        colour: tuple[float, float, float],
        roughness: float = 0.6,
        metallic: float = 0.0,
        image: str | None = None,
    ) -> Any:
        mat = bpy.data.materials.new("m")
        mat.use_nodes = True
        bsdf = mat.node_tree.nodes["Principled BSDF"]
        jitter = [min(1.0, max(0.0, c * self.rng.uniform(0.8, 1.15))) for c in colour]
        bsdf.inputs["Base Color"].default_value = (*jitter, 1.0)
        bsdf.inputs["Roughness"].default_value = roughness
        bsdf.inputs["Metallic"].default_value = metallic
        if image is None:  # wear: a faint mottle of darker and lighter patches, not a flat CG colour
            nodes, links = mat.node_tree.nodes, mat.node_tree.links
            noise = nodes.new("ShaderNodeTexNoise")
            noise.inputs["Scale"].default_value = self.rng.uniform(3.0, 25.0)
            noise.inputs["Detail"].default_value = 6.0
            ramp = nodes.new("ShaderNodeValToRGB")
            dark = [c * self.rng.uniform(0.55, 0.8) for c in jitter]
            ramp.color_ramp.elements[0].color = (*dark, 1.0)
            ramp.color_ramp.elements[1].color = (*jitter, 1.0)
            ramp.color_ramp.elements[0].position = self.rng.uniform(0.25, 0.4)
            links.new(noise.outputs["Fac"], ramp.inputs["Fac"])
            links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
        else:
            tex = mat.node_tree.nodes.new("ShaderNodeTexImage")
            tex.image = bpy.data.images.load(image)
            mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
        return mat

    def _add(self, obj: Any, mat: Any) -> Any:
        obj.data.materials.append(mat)
        self.objects.append(obj)
        return obj

    def box(
        self, centre: tuple[float, float, float], size: tuple[float, float, float], mat: Any, rot_z: float = 0.0
    ) -> Any:
        bpy.ops.mesh.primitive_cube_add(size=1, location=centre, rotation=(0, 0, rot_z))
        obj = bpy.context.active_object
        obj.scale = size
        return self._add(obj, mat)

    def cylinder(
        self,
        centre: tuple[float, float, float],
        radius: float,
        depth: float,
        mat: Any,
        rotation: tuple[float, float, float] = (0, 0, 0),
        vertices: int = 16,
    ) -> Any:
        bpy.ops.mesh.primitive_cylinder_add(
            vertices=vertices, radius=radius, depth=depth, location=centre, rotation=rotation
        )
        return self._add(bpy.context.active_object, mat)

    def cone(self, centre: tuple[float, float, float], radius: float, depth: float, mat: Any, vertices: int) -> Any:
        bpy.ops.mesh.primitive_cone_add(vertices=vertices, radius1=radius, radius2=0.02, depth=depth, location=centre)
        return self._add(bpy.context.active_object, mat)

    def sphere(self, centre: tuple[float, float, float], radius: float, mat: Any) -> Any:
        bpy.ops.mesh.primitive_uv_sphere_add(segments=10, ring_count=6, radius=radius, location=centre)
        obj = bpy.context.active_object
        bpy.ops.object.shade_smooth()
        return self._add(obj, mat)

    def wheel(self, centre: tuple[float, float, float], radius: float, rot_z: float) -> None:
        tyre = self.material((0.02, 0.02, 0.02), 0.8)
        self.cylinder(centre, radius, 0.06, tyre, rotation=(math.pi / 2, 0, rot_z), vertices=20)
        self.cylinder(
            centre,
            radius * 0.35,
            0.08,
            self.material((0.6, 0.6, 0.6), 0.3, 0.8),
            rotation=(math.pi / 2, 0, rot_z),
            vertices=12,
        )


def goods(b: Builder, x0: float, x1: float, y0: float, y1: float, z: float) -> None:
    """Produce piles, boxed goods or crates on a surface spanning [x0, x1] x [y0, y1] at height z."""
    rng = b.rng
    style = rng.choice(["produce", "boxes", "crates", "mixed"])
    b.parts.append(f"goods:{style}")
    if style in ("crates", "mixed"):
        n = rng.randint(2, 4)
        width = (x1 - x0) / n
        for i in range(n):
            crate = b.material(rng.choice(CRATE), 0.5)
            h = rng.uniform(0.12, 0.25)
            cx = x0 + width * (i + 0.5)
            b.box((cx, (y0 + y1) / 2, z + h / 2), (width * 0.92, (y1 - y0) * 0.9, h), crate)
            fruit = b.material(rng.choice(PRODUCE), 0.45)
            for _ in range(rng.randint(6, 12)):
                r = rng.uniform(0.035, 0.06)
                b.sphere(
                    (cx + rng.uniform(-width * 0.4, width * 0.4), rng.uniform(y0 + 0.05, y1 - 0.05), z + h + r * 0.6),
                    r,
                    fruit,
                )
        if style == "crates":
            return
    if style in ("produce", "mixed"):
        piles = rng.randint(2, 5)
        for i in range(piles):
            fruit = b.material(rng.choice(PRODUCE), rng.uniform(0.3, 0.6))
            r = rng.uniform(0.03, 0.07)
            cx = x0 + (x1 - x0) * (i + 0.5) / piles
            for _ in range(rng.randint(10, 22)):
                dx, dy = rng.gauss(0, (x1 - x0) / piles / 4), rng.gauss(0, (y1 - y0) / 4)
                height = max(0.0, 0.12 - (abs(dx) + abs(dy)) * 0.5)
                b.sphere((cx + dx, min(y1, max(y0, (y0 + y1) / 2 + dy)), z + r + rng.uniform(0, height)), r, fruit)
        return
    for _ in range(rng.randint(6, 14)):
        w, d, h = rng.uniform(0.08, 0.3), rng.uniform(0.08, 0.25), rng.uniform(0.05, 0.3)
        colour = (rng.random(), rng.random(), rng.random())
        b.box(
            (rng.uniform(x0 + w / 2, x1 - w / 2), rng.uniform(y0 + d / 2, y1 - d / 2), z + h / 2),
            (w, d, h),
            b.material(colour, 0.5),
            rot_z=rng.uniform(-0.3, 0.3),
        )


def parasol(b: Builder, x: float, y: float, height: float, radius: float) -> None:
    rng = b.rng
    b.parts.append("parasol")
    b.cylinder((x, y, height / 2), 0.02, height, b.material((0.7, 0.7, 0.7), 0.3, 0.9), vertices=8)
    ribs = rng.choice([8, 8, 12])
    first, second = rng.sample(FABRIC, 2)
    canopy = b.cone((x, y, height - 0.15), radius, 0.45, b.material(first, 0.8), vertices=ribs)
    if rng.random() < 0.7:  # alternating panels, like the red/white, blue/yellow parasols of street vendors
        canopy.data.materials.append(b.material(second, 0.8))
        sides = [poly for poly in canopy.data.polygons if len(poly.vertices) == 4]
        for i, poly in enumerate(sides):
            poly.material_index = i % 2
    canopy.rotation_euler.z = rng.uniform(0, math.pi)


def parasol_table(b: Builder) -> tuple[float, float]:
    rng = b.rng
    w, d, h = rng.uniform(1.0, 1.8), rng.uniform(0.6, 0.9), rng.uniform(0.7, 0.8)
    metal = b.material((0.5, 0.5, 0.5), 0.4, 0.7)
    for sx in (-1, 1):
        for sy in (-1, 1):
            b.cylinder((sx * (w / 2 - 0.05), sy * (d / 2 - 0.05), h / 2), 0.018, h, metal, vertices=8)
    b.box((0, 0, h - 0.02), (w, d, 0.04), b.material((0.6, 0.5, 0.35), 0.7))
    if rng.random() < 0.7:
        drop = rng.uniform(0.2, h - 0.05)
        b.box((0, -d / 2 - 0.01, h - drop / 2), (w + 0.02, 0.01, drop), b.material(rng.choice(FABRIC), 0.9))
        b.parts.append("cloth")
    goods(b, -w / 2 + 0.05, w / 2 - 0.05, -d / 2 + 0.05, d / 2 - 0.05, h)
    for _ in range(rng.randint(0, 3)):  # crates and stools on the ground beside the table
        side = rng.choice([-1, 1])
        b.box(
            (side * (w / 2 + rng.uniform(0.25, 0.5)), rng.uniform(-0.3, 0.4), 0.15),
            (0.4, 0.3, 0.3),
            b.material(rng.choice(CRATE), 0.5),
            rot_z=rng.uniform(-0.5, 0.5),
        )
    if rng.random() < 0.85:
        parasol(b, rng.uniform(-0.2, 0.2), d / 2 + 0.05, rng.uniform(2.0, 2.4), rng.uniform(1.0, 1.4))
        return w + 0.6, max(d, 2.4)
    return w + 0.8, d


def tricycle(b: Builder) -> tuple[float, float]:
    rng = b.rng
    bed_w, bed_d, bed_h = rng.uniform(1.1, 1.5), rng.uniform(0.8, 1.0), rng.uniform(0.55, 0.7)
    frame = b.material(
        rng.choice([(0.1, 0.25, 0.6), (0.6, 0.08, 0.05), (0.15, 0.15, 0.15), (0.2, 0.45, 0.2)]), 0.4, 0.5
    )
    b.box((0, 0, bed_h), (bed_w, bed_d, 0.04), frame)
    side = rng.uniform(0.15, 0.35)
    for sy in (-1, 1):
        b.box((0, sy * bed_d / 2, bed_h + side / 2), (bed_w, 0.03, side), frame)
    b.box((-bed_w / 2, 0, bed_h + side / 2), (0.03, bed_d, side), frame)
    for sy in (-1, 1):
        b.wheel((-bed_w * 0.1, sy * (bed_d / 2 + 0.06), 0.3), 0.3, 0)
    front_x = bed_w / 2 + 0.9
    b.wheel((front_x, 0, 0.3), 0.3, 0)
    b.cylinder(((bed_w / 2 + front_x) / 2, 0, 0.55), 0.025, 1.0, frame, rotation=(0, math.pi / 2, 0), vertices=8)
    b.cylinder((front_x - 0.05, 0, 0.75), 0.025, 0.9, frame, rotation=(0, 0.25, 0), vertices=8)
    b.cylinder((front_x - 0.15, 0, 1.15), 0.02, 0.6, frame, rotation=(math.pi / 2, 0, 0), vertices=8)
    b.box((bed_w / 2 + 0.35, 0, 0.85), (0.28, 0.22, 0.08), b.material((0.05, 0.05, 0.05), 0.8))  # saddle
    goods(b, -bed_w / 2 + 0.05, bed_w / 2 - 0.05, -bed_d / 2 + 0.05, bed_d / 2 - 0.05, bed_h + 0.02)
    b.parts.append("tricycle")
    if rng.random() < 0.5:
        parasol(b, -bed_w / 2 + 0.1, 0, rng.uniform(1.9, 2.3), rng.uniform(0.9, 1.2))
    return bed_w + 1.3, max(bed_d, 1.8)


def canopy(b: Builder) -> tuple[float, float]:
    rng = b.rng
    size, height = rng.uniform(2.0, 3.0), rng.uniform(2.0, 2.4)
    fabric = b.material(rng.choice(FABRIC), 0.85)
    metal = b.material((0.75, 0.75, 0.75), 0.35, 0.8)
    half = size / 2
    for sx in (-1, 1):
        for sy in (-1, 1):
            b.cylinder((sx * half, sy * half, height / 2), 0.025, height, metal, vertices=8)
    roof = b.cone((0, 0, height + 0.35), half * math.sqrt(2), 0.7, fabric, vertices=4)
    roof.rotation_euler.z = math.pi / 4
    valance = rng.uniform(0.15, 0.3)
    for sx, sy, sw, sd in (
        (0, -half, size, 0.01),
        (0, half, size, 0.01),
        (-half, 0, 0.01, size),
        (half, 0, 0.01, size),
    ):
        b.box((sx, sy, height - valance / 2), (sw, sd, valance), fabric)
    b.parts.append("canopy")
    tw, td, th = size * rng.uniform(0.6, 0.9), rng.uniform(0.6, 0.8), rng.uniform(0.7, 0.8)
    b.box((0, -half + td / 2 + 0.1, th - 0.02), (tw, td, 0.04), b.material((0.85, 0.85, 0.85), 0.6))
    b.box((0, -half + td / 2 + 0.1, th / 2), (tw, td, th - 0.04), b.material(rng.choice(FABRIC), 0.9))
    goods(b, -tw / 2, tw / 2, -half + 0.15, -half + td + 0.05, th)
    return size, size


def food_cart(b: Builder, sign: str | None) -> tuple[float, float]:
    rng = b.rng
    w, d, h = rng.uniform(1.4, 2.0), rng.uniform(0.7, 0.9), rng.uniform(0.85, 1.0)
    body = b.material(
        rng.choice([(0.85, 0.85, 0.82), (0.7, 0.1, 0.05), (0.9, 0.55, 0.05), (0.1, 0.3, 0.55)]), 0.35, 0.3
    )
    b.box((0, 0, 0.25 + h / 2), (w, d, h), body)
    for sx in (-1, 1):
        for sy in (-1, 1):
            b.wheel((sx * (w / 2 - 0.2), sy * (d / 2 + 0.02), 0.13), 0.13, 0)
    steel = b.material((0.8, 0.8, 0.8), 0.2, 0.9)
    b.box((0, 0, 0.25 + h + 0.01), (w, d, 0.02), steel)
    glass = b.material((0.75, 0.8, 0.8), 0.05)
    b.box((0, d / 4, 0.25 + h + 0.25), (w * 0.9, 0.02, 0.45), glass)
    top = 0.25 + h + 1.1
    for sx in (-1, 1):
        b.cylinder((sx * (w / 2 - 0.03), d / 2 - 0.03, 0.25 + h + 0.55), 0.02, 1.1, steel, vertices=8)
    awning = b.box((0, 0, top), (w + 0.3, d + 0.4, 0.04), b.material(rng.choice(FABRIC), 0.8))
    awning.rotation_euler.x = rng.uniform(-0.15, 0.0)
    if sign is not None:
        board = b.box(
            (0, -d / 2 - 0.012, 0.25 + h * 0.6), (w * 0.85, 0.01, h * 0.5), b.material((1, 1, 1), 0.5, image=sign)
        )
        _front_uv(board)
        b.parts.append("sign")
    for _ in range(rng.randint(3, 8)):  # pots, bottles and boxes on the counter
        r = rng.uniform(0.04, 0.12)
        b.cylinder(
            (rng.uniform(-w / 2 + 0.15, w / 2 - 0.15), rng.uniform(-d / 2 + 0.1, 0.0), 0.25 + h + r),
            r,
            2 * r,
            b.material((rng.random(), rng.random(), rng.random()), 0.4, rng.random() * 0.6),
        )
    b.parts.append("food_cart")
    return w + 0.3, d + 0.4


def _front_uv(obj: Any) -> None:
    """Map the sign image onto the board's faces, upright, as seen from the front (-y)."""
    mesh = obj.data
    uv = mesh.uv_layers.active.data
    xs = [v.co.x for v in mesh.vertices]
    zs = [v.co.z for v in mesh.vertices]
    for poly in mesh.polygons:
        for li in poly.loop_indices:
            co = mesh.vertices[mesh.loops[li].vertex_index].co
            uv[li].uv = ((co.x - min(xs)) / (max(xs) - min(xs)), (co.z - min(zs)) / (max(zs) - min(zs)))


def sign_image(rng: random.Random, text: str, font: str, folder: Path) -> str:
    """A lettered sign board (white or red ground, bold CJK) as a PNG for the food cart's front."""
    ground, ink = rng.choice(
        [
            ((250, 250, 245), (200, 20, 20)),
            ((200, 20, 20), (255, 230, 80)),
            ((250, 200, 30), (30, 30, 30)),
            ((20, 60, 150), (255, 255, 255)),
        ]
    )
    image = Image.new("RGB", (512, 256), ground)
    draw = ImageDraw.Draw(image)
    size = min(200, int(480 / max(1, len(text))))
    face = ImageFont.truetype(font, size)
    box = draw.textbbox((0, 0), text, font=face)
    draw.text(
        ((512 - (box[2] - box[0])) / 2 - box[0], (256 - (box[3] - box[1])) / 2 - box[1]), text, font=face, fill=ink
    )
    path = folder / f"sign-{rng.randrange(1 << 30)}.png"
    image.save(path)
    return str(path)


def reset(samples: int, size: int) -> Any:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_denoising = True
    scene.cycles.seed = 0
    scene.render.film_transparent = True
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    return scene


def light(scene: Any, rng: random.Random) -> dict[str, float]:
    """Sun and sky of a day street: sunny (hard shadows) or overcast (soft, weak ones)."""
    overcast = rng.random() < 0.4
    world = bpy.data.worlds.new("sky")
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    tint = rng.uniform(0.85, 1.0)
    background.inputs["Color"].default_value = (0.75 * tint, 0.82 * tint, 0.95, 1.0)
    background.inputs["Strength"].default_value = rng.uniform(0.9, 1.4) if overcast else rng.uniform(0.4, 0.8)
    scene.world = world
    sun = bpy.data.lights.new("sun", "SUN")
    sun.energy = rng.uniform(0.5, 1.2) if overcast else rng.uniform(3.0, 5.0)
    sun.angle = math.radians(rng.uniform(10, 30) if overcast else rng.uniform(0.5, 3))
    sun_obj = bpy.data.objects.new("sun", sun)
    elevation, azimuth = rng.uniform(25, 70), rng.uniform(0, 360)
    sun_obj.rotation_euler = (math.radians(90 - elevation), 0, math.radians(azimuth))
    scene.collection.objects.link(sun_obj)
    return {"sun_elevation": elevation, "sun_azimuth": azimuth, "overcast": float(overcast)}


def camera(scene: Any, rng: random.Random, footprint: tuple[float, float], height: float) -> dict[str, float]:
    """A patrol-car or pedestrian viewpoint: 1.3-2.3 m up, 4-14 m away, looking at the stall."""
    cam_h, dist = rng.uniform(1.3, 2.3), rng.uniform(4.0, 14.0)
    azimuth = rng.uniform(-70, 70) + rng.choice([0, 0, 180])  # mostly its front or back, seen at an angle
    a = math.radians(azimuth - 90)
    eye = Vector((dist * math.cos(a), dist * math.sin(a), cam_h))
    target = Vector((0, 0, height * 0.45))
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    cam.location = eye
    cam.rotation_euler = (target - eye).to_track_quat("-Z", "Y").to_euler()
    radius = 0.5 * math.sqrt(footprint[0] ** 2 + footprint[1] ** 2 + height**2)
    cam.data.angle = 2 * math.atan(radius / (target - eye).length) / 0.62
    scene.collection.objects.link(cam)
    scene.camera = cam
    return {
        "camera_height": cam_h,
        "distance": dist,
        "azimuth": azimuth,
        "elevation": math.degrees(math.atan2(cam_h, dist)),
    }


def frame(scene: Any, points: list[Any], fill: float = 0.72) -> None:
    """Zoom and shift the lens so the stall's projected box is centred and its longer side fills `fill` of the
    frame: renders spend their pixels on the stall and keep room for its shadow. Shifting the lens instead of
    turning the camera keeps the perspective of the chosen viewpoint."""
    cam = scene.camera.data
    for _ in range(2):
        bpy.context.view_layer.update()
        xs, ys = zip(*((c.x, c.y) for c in (world_to_camera_view(scene, scene.camera, p) for p in points)), strict=True)
        extent = max(max(xs) - min(xs), max(ys) - min(ys))
        centre_x, centre_y = (max(xs) + min(xs)) / 2 - 0.5, (max(ys) + min(ys)) / 2 - 0.5
        zoom = fill / extent
        cam.angle = 2 * math.atan(math.tan(cam.angle / 2) / zoom)
        cam.shift_x = (cam.shift_x + centre_x) * zoom
        cam.shift_y = (cam.shift_y + centre_y) * zoom
    bpy.context.view_layer.update()


def project(scene: Any, point: Vector) -> tuple[float, float]:
    co = world_to_camera_view(scene, scene.camera, point)
    size = scene.render.resolution_x
    return co.x * size, (1 - co.y) * size


def render_one(index: int, job: dict[str, Any], scratch: Path) -> None:
    rng = random.Random(f"{job['seed']}:{index}")
    scene = reset(job["samples"], job["size"])
    b = Builder(rng)
    kind = rng.choice(KINDS)
    if kind == "parasol_table":
        footprint = parasol_table(b)
    elif kind == "tricycle":
        footprint = tricycle(b)
    elif kind == "canopy":
        footprint = canopy(b)
    else:
        sign = sign_image(rng, rng.choice(job["texts"]), job["font"], scratch) if job["texts"] else None
        footprint = food_cart(b, sign)
    bpy.context.view_layer.update()
    points = [obj.matrix_world @ v.co for obj in b.objects for v in obj.data.vertices]
    height = max(p.z for p in points)
    bpy.ops.mesh.primitive_plane_add(size=60, location=(0, 0, 0))
    bpy.context.active_object.is_shadow_catcher = True
    lighting = light(scene, rng)
    view = camera(scene, rng, footprint, height)
    bpy.context.view_layer.update()
    frame(scene, points)
    xs, ys = zip(*(project(scene, p) for p in points), strict=True)
    size = job["size"]
    box = [max(0.0, min(xs)), max(0.0, min(ys)), min(float(size), max(xs)), min(float(size), max(ys))]
    foot = project(scene, Vector((0, 0, 0)))
    up = project(scene, Vector((0, 0, 1)))
    stem = Path(job["out"]) / f"stall-{index:05d}"
    scene.render.filepath = str(stem.with_suffix(".png"))
    bpy.ops.render.render(write_still=True)
    record = {
        "index": index,
        "kind": kind,
        "parts": b.parts,
        "box": box,
        "foot": foot,
        "px_per_m": foot[1] - up[1],
        "height_m": height,
        "size": size,
        **view,
        **lighting,
    }
    stem.with_suffix(".json").write_text(json.dumps(record, ensure_ascii=False))


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    Path(job["out"]).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(job["first"], job["first"] + job["count"]):
            render_one(index, job, Path(scratch))


if __name__ == "__main__":
    main()
