"""A real RTSP server (GStreamer's gst-rtsp-server from the Debian packages) serving a video file as H.264.

Run with the distribution's own Python, which has the GStreamer bindings (python3-gst-1.0):

    /usr/bin/python3 tests/rtsp_server.py PORT VIDEO.mp4

Prints `ready rtsp://127.0.0.1:PORT/drive` when it listens. Each client session plays the file from the start.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
port, video = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    f"( filesrc location={video} ! qtdemux ! decodebin ! videoconvert ! "
    "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 ! rtph264pay name=pay0 pt=96 )"
)
factory.set_shared(True)
server.get_mount_points().add_factory("/drive", factory)
server.attach(None)
print(f"ready rtsp://127.0.0.1:{port}/drive", flush=True)  # noqa: T201 (the line the test waits for)
GLib.MainLoop().run()
