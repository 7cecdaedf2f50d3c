"""`python -m devstack run|env|token USER`: the local stack and its helpers."""

from __future__ import annotations

import argparse
import json
import sys

from devstack import stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start the whole connector on 127.0.0.1")
    commands.add_parser("env", help="print KEY=VALUE lines for the running stack")
    demo_command = commands.add_parser(
        "demo", help="drive the main story over HTTP; exit 0 if it landed")
    demo_command.add_argument(
        "--exit", action="store_true",
        help="stop a stack the demo started as soon as it ends (by default it stays up for "
             "the inbox when run from a terminal)")
    token = commands.add_parser("token", help="print a bearer token for a seeded user")
    token.add_argument("user", choices=[u.subject for u in stack.demo_users()])
    args = parser.parse_args(argv)
    if args.command == "run":
        from devstack import terminal

        return terminal.run()
    if args.command == "demo":
        from devstack import demo

        return demo.main(stay=False if args.exit else None)
    if args.command == "env":
        path = stack.STATE_DIR / "stack.json"
        if not path.exists():
            print("the local stack is not running (start it with `make run`)", file=sys.stderr)
            return 1
        for key, value in json.loads(path.read_text()).items():
            if key != "pid":
                print(f"{key}={value}")
        return 0
    print(stack.mint(args.user))
    return 0


if __name__ == "__main__":
    sys.exit(main())
