"""Run import → predict → export → a 1-epoch train of ultralytics with the network blocked.

Executed by test_offline.py in a fresh interpreter, so the block is in place before ultralytics is imported.
Usage: python -m tests.offline_probe WORKDIR. Exits 1 and lists every connection attempt if there was any.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

ATTEMPTS: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_network(sock: socket.socket) -> bool:
    # Only IP sockets: DataLoader workers legitimately talk over AF_UNIX.
    return sock.family in (socket.AF_INET, socket.AF_INET6)


def _connect(self: socket.socket, address: Any) -> None:
    if _is_network(self):
        ATTEMPTS.append(f"connect {address}")
        raise OSError(f"network blocked by the offline test: connect {address}")
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    if _is_network(self):
        ATTEMPTS.append(f"connect_ex {address}")
        raise OSError(f"network blocked by the offline test: connect_ex {address}")
    return _real_connect_ex(self, address)


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    ATTEMPTS.append(f"getaddrinfo {host}")
    raise socket.gaierror(f"network blocked by the offline test: getaddrinfo {host}")


def block_network() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]


def tiny_dataset(root: Path, samples: Path) -> Path:
    """A dataset version built by `datasets.build` from the garbage samples (10 train, 6 val photos)."""
    from datasets.build import build_dataset
    from tests.factories import make_source_tree, source_config_yaml

    make_source_tree(root / "sources", samples, "garbage-cn", "cn", val=4)
    make_source_tree(root / "sources", samples, "garbage-street", "street", val=2)
    cn_map = {"garbage": "exposed_garbage", "garbage_bin": None, "overflow": "overflowing_bin"}
    (root / "cn.yaml").write_text(source_config_yaml("cn", ["garbage", "garbage_bin", "overflow"], cn_map))
    (root / "street.yaml").write_text(source_config_yaml("street", ["garbage"], {"garbage": "exposed_garbage"}))
    (root / "build.yaml").write_text(f"name: tiny-v1\nsources: [{root / 'cn.yaml'}, {root / 'street.yaml'}]\n")
    target, _ = build_dataset(root / "build.yaml", root / "versions", root / "sources")
    return target


def self_check() -> None:
    """Prove the guard is live: a loopback connect must be refused and recorded, then forgotten."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.connect(("127.0.0.1", 9))
    except OSError:
        pass
    finally:
        probe.close()
    assert ATTEMPTS == ["connect ('127.0.0.1', 9)"], ATTEMPTS
    ATTEMPTS.clear()


def plain_import() -> int:
    """Control: ultralytics imported without our configuration does reach for the network."""
    block_network()
    import ultralytics  # noqa: F401

    print("ATTEMPTS:", ATTEMPTS)
    return 0 if ATTEMPTS else 1


def main(workdir: Path) -> int:
    block_network()
    # The lent GPU machines have no polars (ultralytics imports it lazily for results and plots): train without it.
    sys.modules["polars"] = None  # type: ignore[assignment]
    self_check()
    repo = Path(__file__).resolve().parents[1]
    from models.export import export_onnx
    from models.quantize import quantize_int8
    from vision.images import load_image
    from vision.ultralytics_backend import UltralyticsDetector
    from vision.ultralytics_env import import_ultralytics

    ultralytics = import_ultralytics()
    weights = workdir / "model.pt"
    shutil.copyfile(repo / "models" / "zoo" / "coco-yolov8n" / "model.pt", weights)
    samples = sorted((repo / "samples" / "images").glob("*.jpg"))
    print("predict:", len(UltralyticsDetector(weights).detect(load_image(samples[0]))), "boxes")
    print("ultralytics predict:", len(ultralytics.YOLO(str(weights)).predict(str(samples[1]), verbose=False)[0]))
    fp32 = export_onnx(weights, workdir / "model.onnx", imgsz=320)
    quantize_int8(fp32, workdir / "model.int8.onnx", samples[:8])
    print("export:", fp32.stat().st_size, "bytes")
    from models.train import train

    data = tiny_dataset(workdir / "tiny", repo / "samples")
    config = workdir / "train.yaml"
    config.write_text(
        f"name: offline\ninit: {weights}\ndata: {data}\nimgsz: 160\nepochs: 1\nbatch: 4\nworkers: 0\n"
        "device: cpu\npreset: street\n"
    )
    os.chdir(workdir)  # a relative runs folder, as `streetwatch train --runs runs` passes it
    run = train(config, Path("runs"))
    if run != workdir.resolve() / "runs" / "offline":  # ultralytics puts a relative project under runs/detect/
        print("train: run landed in", run)
        return 1
    print("train: wrote", sorted(p.name for p in (run / "weights").iterdir()))
    from models.publish import PublishOptions, publish

    published = publish(run, "tiny", "0.0.1", PublishOptions(intended_use="offline test"), zoo=workdir / "zoo")
    print("publish: wrote", sorted(p.name for p in published.iterdir()))
    if ATTEMPTS:
        print("NETWORK ATTEMPTS:", *ATTEMPTS, sep="\n  ")
        return 1
    print("no network attempts")
    return 0


if __name__ == "__main__":
    sys.exit(plain_import() if sys.argv[1] == "--plain-import" else main(Path(sys.argv[1])))
