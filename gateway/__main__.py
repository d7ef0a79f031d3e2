"""``python -m gateway [--host H] [--port P] [--workers N]`` (or GATEWAY_HOST / GATEWAY_PORT / GATEWAY_WORKERS).

Also ``python -m gateway adduser NAME --role admin [--unit U] [--project P] [--display-name N]``: creates or
updates a user, reading the password from the GATEWAY_NEW_PASSWORD variable or, failing that, from stdin,
so that the first administrator can be made before anyone can log in.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import uvicorn

from gateway.settings import GatewaySettings
from shared.logging import configure_logging


def _refused_configuration() -> str | None:
    """Why the shared settings cannot start a gateway (QLY_ENV=prod without real secrets, a bad TIMEZONE), said
    once and plainly before anything listens, instead of a traceback from the application's start-up."""
    from pydantic import ValidationError

    from shared.settings import AppSettings, SecretSettings

    try:
        if AppSettings().qly_env == "prod":
            SecretSettings()
    except ValidationError as error:
        return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
    return None


def _serve(args: argparse.Namespace) -> int:
    refused = _refused_configuration()
    if refused:
        print(f"gateway: refusing to start: {refused}", file=sys.stderr)
        return 2
    settings = GatewaySettings()
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    workers = args.workers or settings.workers
    configure_logging("gateway")
    # uvicorn handles SIGTERM/SIGINT: it stops accepting, lets requests finish, then runs the lifespan exit.
    # Several workers need the app as an import string (each process builds its own); see gateway.app.serve.
    uvicorn.run("gateway.app:serve", factory=True, host=host, port=port, workers=workers, log_config=None,
                access_log=False, proxy_headers=False, timeout_graceful_shutdown=10)
    return 0


async def _adduser(args: argparse.Namespace) -> int:
    from gateway.auth.passwords import hash_password
    from shared.documents import open_store
    from shared.documents.models import Actor, Role, User

    password = os.environ.get("GATEWAY_NEW_PASSWORD") or sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        print("the password must have at least 8 characters", file=sys.stderr)
        return 2
    store = await open_store()
    try:
        user = User(username=args.username, display_name=args.display_name or args.username,
                    password_hash=hash_password(password), roles=[Role(r) for r in args.role],
                    unit_ids=args.unit, project_codes=args.project)
        saved = await store.users.save(user, actor=Actor.system("gateway-cli"))
    finally:
        await store.close()
    print(f"{'created' if saved.created else 'updated'} user {args.username} ({', '.join(args.role)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="The Qianliyan API gateway")
    parser.add_argument("--host", help="listen address (GATEWAY_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (GATEWAY_PORT, default 8000)")
    parser.add_argument("--workers", type=int, help="processes serving requests (GATEWAY_WORKERS, default 1)")
    sub = parser.add_subparsers(dest="command")
    add = sub.add_parser("adduser", help="create or update a user (password from GATEWAY_NEW_PASSWORD or stdin)")
    add.add_argument("username")
    add.add_argument("--role", action="append", required=True,
                     choices=["admin", "leader", "unit_staff", "investor", "process_designer"])
    add.add_argument("--unit", action="append", default=[])
    add.add_argument("--project", action="append", default=[])
    add.add_argument("--display-name")
    args = parser.parse_args(argv)
    if args.command == "adduser":
        return asyncio.run(_adduser(args))
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
