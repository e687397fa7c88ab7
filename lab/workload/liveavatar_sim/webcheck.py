"""The Gradio web flow as a user does it, from inside the service's container: upload the image and
the audio, submit, download the video, check that it decodes. Prints one JSON line; exit 1 on failure."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:7860/")
    p.add_argument("--image", required=True)
    p.add_argument("--audio", required=True)
    p.add_argument("--size", default="688*368")
    p.add_argument("--frames", type=int, default=8)
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import imageio.v3 as iio
    from gradio_client import Client, handle_file

    started = time.monotonic()
    try:
        client = Client(args.url, analytics_enabled=False, verbose=False, download_files=tempfile.mkdtemp(prefix="webcheck-"))
        result = client.predict(handle_file(args.image), handle_file(args.audio), "web flow check", args.size, 2, args.frames, api_name="/generate")
        path = result["video"] if isinstance(result, dict) else result
        frames = iio.imread(path, index=None)
    except Exception as exc:  # any failure of the flow is the check's answer
        print(json.dumps({"passed": False, "reason": f"web flow failed: {exc.__class__.__name__}: {exc}"}))
        return 1
    width, height = (int(v) for v in args.size.split("*"))
    ok = frames.shape[0] == args.frames and frames.shape[1:3] == (height, width)
    print(
        json.dumps(
            {
                "passed": ok,
                "frames": int(frames.shape[0]),
                "shape": list(frames.shape),
                "seconds": round(time.monotonic() - started, 3),
                "reason": "video downloaded and decoded" if ok else f"unexpected video shape {list(frames.shape)}",
            }
        )
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
