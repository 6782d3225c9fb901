"""app_b's users table in SQLite: passwords hashed (scrypt), tokens stored as SHA-256.

A token is checked against every row with ``hmac.compare_digest`` (no early exit), so the
time taken does not depend on how much of a token matched. ``python -m
stackyard.density.users --db PATH`` creates and seeds the table from the environment
(``DENSITY_SEED_USERNAME``, ``DENSITY_SEED_PASSWORD``, ``DENSITY_SEED_TOKEN``) and prints
``{"changed": ...}`` for the deployment.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import sys

SCHEMA = """CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    token TEXT NOT NULL
)"""
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt, _ = stored.split("$")
        return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)
    except ValueError:
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def connect(path: str, readonly: bool = True) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}?mode=rwc"
    return sqlite3.connect(uri, uri=True, timeout=5, check_same_thread=False)


def owner_of(conn: sqlite3.Connection, token: str) -> str | None:
    """The username whose token is ``token``, compared in constant time over every row."""
    wanted = token_digest(token)
    found = None
    for username, stored in conn.execute("SELECT username, token FROM users"):
        if hmac.compare_digest(stored, wanted):
            found = username
    return found


def seed(path: str, username: str, password: str, token: str) -> bool:
    """Create the table and make ``username``'s row match; True if anything changed."""
    old_umask = os.umask(0o077)  # the table holds password hashes: owner-only
    try:
        conn = connect(path, readonly=False)
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    try:
        with conn:
            conn.execute(SCHEMA)
            row = conn.execute(
                "SELECT password, token FROM users WHERE username = ?", (username,)
            ).fetchone()
            if row and check_password(password, row[0]) and row[1] == token_digest(token):
                return False
            conn.execute(
                "INSERT INTO users (username, password, token) VALUES (?, ?, ?) "
                "ON CONFLICT (username) DO UPDATE SET password = excluded.password, "
                "token = excluded.token",
                (username, hash_password(password), token_digest(token)),
            )
            return True
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="path of the SQLite file")
    args = parser.parse_args(argv)
    try:
        creds = [os.environ[f"DENSITY_SEED_{k}"] for k in ("USERNAME", "PASSWORD", "TOKEN")]
    except KeyError as err:
        print(f"missing environment variable {err.args[0]}", file=sys.stderr)
        return 2
    if not all(creds):
        print("DENSITY_SEED_USERNAME, _PASSWORD and _TOKEN must not be empty", file=sys.stderr)
        return 2
    print(json.dumps({"changed": seed(args.db, *creds)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
