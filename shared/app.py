"""The colorizing page: photos, hints, reference palettes and videos in the browser, all on this computer.

    python shared/app.py                      # http://127.0.0.1:7860
    python shared/app.py --port 8000 --model full_version
    colorize app                              # the same, from the installed command

Nothing is fetched from elsewhere (no fonts, scripts or analytics) and nothing leaves the machine;
the page has no login, so it listens on 127.0.0.1 unless --host says otherwise. The server itself
is shared/web.py; this file only reads the flags (quickly: TensorFlow loads after them).
"""

import argparse
import socket
import sys

from shared import cli
from shared.errors import InputError

DEFAULT_PORT = 7860
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description="Serve the colorizing page (photos, hints, videos) on this computer.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; the page has no login, so anything but 127.0.0.1 lets anyone "
                             "who reaches it use it (default: %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="(default: %(default)s; 0 picks a free one)")
    parser.add_argument("--model", default=cli.DEFAULT_MODEL,
                        help="the model the page starts with: tier name or .keras path (default: %(default)s)")
    parser.add_argument("--max-megapixels", type=cli.positive_float, default=50.0,
                        help="larger photos and video frames are refused (default: %(default)s)")
    parser.add_argument("--max-upload-mb", type=cli.positive_float, default=500.0,
                        help="larger files are refused (default: %(default)s MiB)")
    return parser


def main(argv=None, prog=None):
    args = build_parser(prog).parse_args(argv)
    if not cli.model_path(args.model).exists():
        raise InputError(f"no trained model at {cli.model_path(args.model)}: train one with "
                         f"`{cli.train_command(args.model)}` or give another --model")
    sock = listening_socket(args.host, args.port)
    if args.host not in LOCAL_HOSTS:
        print(f"warning: the page has no login; anyone who can reach {args.host} on port "
              f"{sock.getsockname()[1]} can use it", file=sys.stderr, flush=True)
    print("starting: loading TensorFlow and the model takes a few seconds...", flush=True)
    from shared import web  # TensorFlow loads here, once the flags and the port are settled

    limits = web.Limits(max_pixels=int(args.max_megapixels * 1e6), max_upload_bytes=int(args.max_upload_mb * 2**20))
    with web.Workspace() as workspace:
        app = web.create_app(workspace, default_model=args.model, limits=limits)
        print(f"colorize page: {address(args.host, sock.getsockname()[1])}  (Ctrl-C stops it)", flush=True)
        print(f"temporary files: {workspace.folder} (removed when it stops)", flush=True)
        web.serve(app, sock)
    print("stopped; temporary files removed")
    return 0


def listening_socket(host, port):
    """A socket listening on (host, port), or a one-line error when that is taken or not this machine's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # from now on connections wait for the server rather than being refused
    except OSError as error:
        sock.close()
        raise InputError(f"cannot listen on {host} port {port} ({error.strerror or error}); "
                         "give another --port or --host") from error
    return sock


def address(host, port):
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


if __name__ == "__main__":
    cli.run(main)
