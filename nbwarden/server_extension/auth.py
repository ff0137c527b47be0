"""Who is calling and what they may do: a multi-user token map and a role authorizer.

``TokenMapIdentityProvider`` lets one Jupyter server (or the standalone gateway) accept
several users, each with its own token. ``RoleAuthorizer`` maps a user to the roles of
``[roles]`` in nbwarden.toml and decides every Jupyter and nbwarden action from them.
"""

from __future__ import annotations

import getpass
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_server.auth import Authorizer, User
from jupyter_server.auth.identity import PasswordIdentityProvider
from tornado import web
from traitlets import Dict, Instance, Unicode, default

from nbwarden.config import ROLES, RolesConfig

ANY_ROLE = frozenset(ROLES)

RESOURCE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    ("nbwarden", "read"): frozenset(),
    ("nbwarden:execute", "write"): frozenset({"analyst"}),
    ("nbwarden:executions", "read"): frozenset({"analyst", "auditor"}),
    ("nbwarden:executions", "write"): frozenset({"analyst", "approver"}),
    ("nbwarden:approvals", "read"): frozenset({"analyst", "approver"}),
    ("nbwarden:approvals", "write"): frozenset({"analyst", "approver"}),
    ("nbwarden:grants", "read"): frozenset({"approver"}),
    ("nbwarden:grants", "write"): frozenset({"approver"}),
    ("nbwarden:audit", "read"): frozenset({"auditor"}),
    ("nbwarden:audit", "write"): frozenset({"auditor"}),
}
"""Roles that may take an action on an nbwarden resource; empty: any authenticated user.

The handlers narrow this further (an approver may not approve their own request, an
analyst sees only their own approvals and executions). ``admin`` may do everything.
"""


@dataclass
class RoledUser(User):
    """A user whose roles the gateway fixed itself: the local operator (see runtime.py)."""

    nbwarden_roles: frozenset[str] = frozenset()


def roles_of_user(user: User, roles: RolesConfig) -> frozenset[str]:
    if isinstance(user, RoledUser):
        return user.nbwarden_roles
    return roles.roles_of(user.username)


def roles_allowed(resource: str, action: str) -> frozenset[str] | None:
    """Roles for one (resource, action); ``None``: the pair is unknown and refused."""
    return RESOURCE_ROLES.get((resource, action))


class RoleAuthorizer(Authorizer):
    """Authorise from the ``[roles]`` table of the nbwarden config.

    Jupyter's own resources (contents, kernels, terminals...) are open to any user who has
    at least one nbwarden role; nbwarden resources follow :data:`RESOURCE_ROLES`.
    """

    roles_config = Instance(RolesConfig, allow_none=True, help="Set by the extension on load.")
    config_file = Unicode(
        "", config=True, help="nbwarden.toml to read [roles] from when the extension has not."
    )

    def is_authorized(
        self, handler: web.RequestHandler, user: User, action: str, resource: str
    ) -> bool:
        roles = roles_of_user(user, self._roles())
        if "admin" in roles:
            return True
        if not resource.startswith("nbwarden"):
            return bool(roles & ANY_ROLE)
        allowed = roles_allowed(resource, action)
        if allowed is None:
            return False
        return not allowed or bool(roles & allowed)

    def _roles(self) -> RolesConfig:
        """The loaded roles; with no readable config nobody has a role (fail closed)."""
        if self.roles_config is None:
            from nbwarden.config import ConfigError, load_config

            try:
                self.roles_config = load_config(self.config_file or None).roles
            except ConfigError as exc:
                self.log.error("nbwarden: no roles, every request is refused: %s", exc)
                return RolesConfig()
        return self.roles_config


class TokenMapIdentityProvider(PasswordIdentityProvider):
    """Several users on one server, each logging in with their own token.

    The server's own token and password still work; the token identifies
    ``default_username``, by default the account the server runs as.
    """

    user_tokens = Dict(
        key_trait=Unicode(),
        value_trait=Unicode(),
        config=True,
        help="token -> username; each user logs in with their own token.",
    )
    user_tokens_file = Unicode(
        "", config=True, help="A JSON file {token: username} merged into user_tokens."
    )
    default_username = Unicode(config=True, help="The user the server's own token identifies.")

    @default("default_username")
    def _default_username_default(self) -> str:
        return getpass.getuser()

    def username_for_token(self, token: str) -> str | None:
        if not token:
            return None
        found: str | None = None
        for known, username in self._token_map().items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = username
        return found

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:
        username = self.username_for_token(self.get_token(handler) or "")
        if username:
            return _user(username)
        return await super().get_user_token(handler)

    def generate_anonymous_user(self, handler: web.RequestHandler) -> User:
        """The server's own token or password identifies ``default_username``."""
        return _user(self.default_username)

    def process_login_form(self, handler: web.RequestHandler) -> User | None:
        username = self.username_for_token(handler.get_argument("password", default=""))
        if username:
            return _user(username)
        return super().process_login_form(handler)

    def _token_map(self) -> dict[str, str]:
        tokens: dict[str, str] = dict(self.user_tokens)
        if self.user_tokens_file:
            tokens.update(read_token_file(Path(self.user_tokens_file)))
        return tokens


def read_token_file(path: Path) -> dict[str, str]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(token): str(name) for token, name in data.items() if token and name}


def _user(username: str) -> User:
    return User(username=username, name=username, display_name=username)


def has_any(roles: Iterable[str], wanted: Iterable[str]) -> bool:
    return "admin" in roles or bool(set(roles) & set(wanted))
