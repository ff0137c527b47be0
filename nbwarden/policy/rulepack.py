"""Rule packs: the YAML file that names each rule, its action and its reason.

Detectors report rule ids; the pack turns them into an action and a reason for the
caller's scope (connection, role, purpose), applying the config's overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from nbwarden.config import RuleOverride
from nbwarden.policy.errors import PolicyError

Action = Literal["allow", "flag", "block"]
ACTIONS: tuple[Action, ...] = ("allow", "flag", "block")
SEVERITY: dict[str, int] = {"allow": 0, "flag": 1, "block": 2}


@dataclass(frozen=True)
class Scope:
    """Who runs the code, where and why: what scoped rules and overrides match on."""

    connection: str | None = None
    role: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    action: Action
    reason: str
    connections: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def applies_to(self, scope: Scope) -> bool:
        return _matches(self.connections, self.roles, self.purposes, scope)


def _matches(
    connections: tuple[str, ...], roles: tuple[str, ...], purposes: tuple[str, ...], scope: Scope
) -> bool:
    if connections and scope.connection not in connections:
        return False
    if roles and scope.role not in roles:
        return False
    wanted = {p.casefold() for p in purposes}
    return not wanted or (scope.purpose or "").strip().casefold() in wanted


class RulePack:
    """The rules of one YAML file plus the config's overrides."""

    def __init__(self, rules: Iterable[Rule], overrides: Iterable[RuleOverride] = ()) -> None:
        self.rules: dict[str, Rule] = {rule.id: rule for rule in rules}
        self.overrides = tuple(overrides)
        for override in self.overrides:
            if not any(fnmatchcase(rule_id, override.rule) for rule_id in self.rules):
                raise PolicyError(f"policy override names an unknown rule {override.rule!r}")

    @classmethod
    def default_path(cls) -> Path:
        return Path(str(resources.files("nbwarden.policy") / "rules" / "default.yaml"))

    @classmethod
    def load(cls, path: Path | None = None, overrides: Iterable[RuleOverride] = ()) -> RulePack:
        source = path or cls.default_path()
        try:
            raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        except OSError as exc:
            raise PolicyError(f"cannot read rule file {source}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise PolicyError(f"rule file {source} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list):
            raise PolicyError(f"rule file {source} needs a top-level 'rules' list")
        return cls((_rule(item, source) for item in raw["rules"]), overrides)

    def param(self, rule_id: str, name: str) -> Any:
        """A data list a detector matches on (functions, commands, paths, ...)."""
        rule = self.rules.get(rule_id)
        return rule.params.get(name) if rule else None

    def names(self, rule_id: str, name: str) -> frozenset[str]:
        """A rule parameter as a set of lower-case names."""
        return frozenset(str(item).lower() for item in self.param(rule_id, name) or ())

    def resolve(self, rule_id: str, scope: Scope) -> Rule | None:
        """The rule as it applies in this scope, or ``None`` where it does not apply."""
        rule = self.rules.get(rule_id)
        if rule is None:
            raise PolicyError(f"detector reported rule {rule_id!r}, which the rule pack lacks")
        if not rule.applies_to(scope):
            return None
        action = rule.action
        for override in self.overrides:
            if fnmatchcase(rule_id, override.rule) and _matches(
                override.connections, override.roles, override.purposes, scope
            ):
                action = override.action
        return rule if action == rule.action else Rule(rule.id, action, rule.reason)


def _rule(item: Any, source: Path) -> Rule:
    if not isinstance(item, dict) or not {"id", "action", "reason"} <= item.keys():
        raise PolicyError(f"rule file {source}: every rule needs an id, an action and a reason")
    if item["action"] not in ACTIONS:
        raise PolicyError(f"rule file {source}: rule {item['id']} has unknown action")
    known = {"id", "action", "reason", "connections", "roles", "purposes"}
    return Rule(
        id=str(item["id"]),
        action=cast(Action, item["action"]),
        reason=str(item["reason"]),
        connections=tuple(str(x) for x in item.get("connections", ())),
        roles=tuple(str(x) for x in item.get("roles", ())),
        purposes=tuple(str(x) for x in item.get("purposes", ())),
        params={key: value for key, value in item.items() if key not in known},
    )
