"""Shell guardrails: parse with bashlex and judge every command that would run.

Pipelines, lists, subshells, functions, command substitutions, ``bash -c`` strings,
``eval`` text, ``find -exec`` and ``xargs`` targets are all judged. SQL handed to
``psql -c``, ``mysql -e``, ``duckdb`` or ``sqlite3`` goes to the SQL analyzer in that
client's dialect. Code bashlex cannot parse is flagged and still judged word by word.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import bashlex
from bashlex.ast import node as BashNode

from nbwarden.policy.rulepack import RulePack
from nbwarden.policy.verdict import Findings

SqlJudge = Callable[[str, str], Findings]

MAX_DEPTH = 4
SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "fish", "busybox"})
WRAPPERS = frozenset(
    {
        "env",
        "nice",
        "nohup",
        "timeout",
        "time",
        "stdbuf",
        "setsid",
        "ionice",
        "command",
        "builtin",
        "exec",
        "watch",
        "unbuffer",
        "xargs",
        "parallel",
        "flock",
        "caffeinate",
    }
)
WRAPPER_VALUE_OPTIONS = frozenset(
    {"-n", "-s", "-u", "-c", "-i", "-I", "-P", "-L", "-d", "-E", "-k", "--signal", "-o", "-e", "-a"}
)
FORK_BOMB = re.compile(r"(?<![^\s;&|(){}])([^\s;&|(){}<>]+)\s*\(\)\s*\{[^}]*\1\s*\|\s*\1\s*&")
"""``:(){ :|:& };:``; the name starts where a word starts (the lookbehind), so a long word
is read once, not from each of its positions."""
OUTPUT_REDIRECTS = frozenset({">", ">>", ">|", "&>", "&>>", ">&"})
HOST_ARGUMENT = re.compile(r"^([\w.-]+@)?[\w.-]+:(?!//)|^\w+://")


@dataclass
class ShellContext:
    depth: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    targets_unknown: bool = False

    def nested(self, targets_unknown: bool = False) -> ShellContext:
        return ShellContext(self.depth + 1, dict(self.variables), targets_unknown)


class ShellAnalyzer:
    """Turns shell code into rule ids (and the lineage of any SQL it runs)."""

    def __init__(self, pack: RulePack, judge_sql: SqlJudge) -> None:
        self.pack = pack
        self.judge_sql = judge_sql
        self.read_only = pack.names("shell.unknown_command", "read_only_commands")
        self.destroyers = pack.names("shell.destructive", "commands")
        self.safe_prefixes = tuple(pack.param("shell.destructive", "safe_prefixes") or ())
        self.killers = pack.names("shell.kill_shutdown", "commands")
        self.systemctl_verbs = pack.names("shell.kill_shutdown", "systemctl_verbs")
        self.privileged = pack.names("shell.privilege", "commands")
        self.remote = pack.names("shell.exfiltrate", "commands")
        self.curl_uploads = _options(pack, "curl_upload_options")
        self.wget_uploads = _options(pack, "wget_upload_options")
        self.method_options = _options(pack, "method_options")
        self.upload_methods = _options(pack, "upload_methods")
        self.credential_paths = tuple(pack.param("shell.credential_read", "paths") or ())
        self.decoders = pack.names("shell.decode_to_shell", "decoders")
        self.system_paths = tuple(pack.param("shell.device_write", "system_paths") or ())
        self.writers = pack.names("shell.write", "commands")
        self.network = pack.names("shell.network", "commands")
        self.interpreters = pack.names("shell.interpreter", "commands")
        self.sql_clients: dict[str, str] = dict(pack.param("shell.sql_unseen", "clients") or {})

    def analyze(self, code: str) -> Findings:
        findings = Findings()
        self._analyze_script(code, ShellContext(), findings)
        return findings

    def _analyze_script(self, code: str, ctx: ShellContext, findings: Findings) -> None:
        if ctx.depth > MAX_DEPTH:
            findings.hit("shell.eval")
            return
        if FORK_BOMB.search(code):
            findings.hit("shell.fork_bomb")
        try:
            trees = bashlex.parse(code)
        except Exception:  # bashlex raises many types for unsupported syntax: fail closed
            findings.hit("shell.unparseable")
            self._judge_words_only(code, ctx, findings)
            return
        for tree in trees:
            self._visit(tree, code, ctx, findings)

    def _judge_words_only(self, code: str, ctx: ShellContext, findings: Findings) -> None:
        """Fallback for unparsed code: judge each ;|&-separated segment by its words."""
        for segment in re.split(r"[;&|()\n{}`]|\$\(", code):
            try:
                argv = shlex.split(segment, comments=True)
            except ValueError:
                argv = segment.split()
            argv = [word for word in argv if word not in ("[[", "]]", "then", "do", "else")]
            if argv:
                self._judge_argv(argv, ctx, findings)

    # ---- tree walk ------------------------------------------------------------

    def _visit(self, node: BashNode, code: str, ctx: ShellContext, findings: Findings) -> None:
        kind = node.kind
        if kind == "command":
            self._judge_command(node, code, ctx, findings)
        elif kind == "pipeline":
            self._judge_pipeline(node, code, ctx, findings)
        elif kind == "function":
            self._judge_function(node, code, ctx, findings)
        elif kind in ("commandsubstitution", "processsubstitution"):
            findings.hit("shell.command_substitution")
            self._visit(node.command, code, ctx, findings)
        else:
            for child in _children(node):
                self._visit(child, code, ctx, findings)

    def _judge_function(
        self, node: BashNode, code: str, ctx: ShellContext, findings: Findings
    ) -> None:
        name = node.name.word
        body_commands = [c for c in _walk(node.body) if c.kind == "command"]
        if any(_first_word(c) == name for c in body_commands):
            findings.hit("shell.fork_bomb")
        self._visit(node.body, code, ctx, findings)

    def _judge_pipeline(
        self, node: BashNode, code: str, ctx: ShellContext, findings: Findings
    ) -> None:
        commands = [part for part in node.parts if part.kind != "pipe"]
        names = [_command_name(c) for c in commands]
        for index, name in enumerate(names):
            if index == 0 or not self._reads_code_from_stdin(commands[index], name):
                continue
            upstream = set(names[:index])
            if upstream & self.decoders:
                findings.hit("shell.decode_to_shell")
            elif upstream & {"curl", "wget", "nc", "ncat"}:
                findings.hit("shell.download_exec")
            else:
                findings.hit("shell.pipe_to_shell")
        for index, command in enumerate(commands):
            piped = _piped_text(commands[index - 1]) if index else None
            self._visit_with_stdin(command, code, ctx, findings, piped)

    def _reads_code_from_stdin(self, command: BashNode, name: str) -> bool:
        words = _words(command)
        if name in SHELLS or name in {"eval", "source", "."}:
            return _shell_script_argument(words[1:]) is None
        return name in self.interpreters and not any(w in ("-c", "-e") for w in words[1:])

    def _visit_with_stdin(
        self, node: BashNode, code: str, ctx: ShellContext, findings: Findings, stdin: str | None
    ) -> None:
        if node.kind == "command":
            self._judge_command(node, code, ctx, findings, stdin)
        else:
            self._visit(node, code, ctx, findings)

    # ---- one command ------------------------------------------------------------

    def _judge_command(
        self,
        node: BashNode,
        code: str,
        ctx: ShellContext,
        findings: Findings,
        stdin: str | None = None,
    ) -> None:
        argv: list[str] = []
        for part in node.parts:
            if part.kind == "assignment":
                self._record_assignment(part, code, ctx, findings)
            elif part.kind == "word":
                for inner in _substitutions(part):
                    self._visit(inner, code, ctx, findings)
                argv.append(self._expand(part, ctx, findings, command_word=not argv))
                if len(argv) == 1 and _quoted_differently(part, code):
                    findings.hit("shell.quote_trick")
            elif part.kind == "redirect":
                self._judge_redirect(part, code, ctx, findings)
        if not argv:
            return
        fed = _heredoc(node)
        if fed is None:
            fed = _herestring(node)
        self._judge_argv(argv, ctx, findings, stdin=fed if fed is not None else stdin)

    def _record_assignment(
        self, part: BashNode, code: str, ctx: ShellContext, findings: Findings
    ) -> None:
        for inner in _substitutions(part):
            self._visit(inner, code, ctx, findings)
        name, _, value = part.word.partition("=")
        if "$" in value or "`" in value:
            ctx.variables.pop(name, None)
        else:
            ctx.variables[name] = value

    def _expand(
        self, word: BashNode, ctx: ShellContext, findings: Findings, command_word: bool
    ) -> str:
        """The word with known variables substituted; ``\\x00`` marks an unknown part."""
        text: str = word.word
        for part in sorted(_parameters(word), key=lambda p: -p.pos[0]):
            value = ctx.variables.get(part.value, "\x00")
            start, end = part.pos[0] - word.pos[0], part.pos[1] - word.pos[0]
            if text[start:end].startswith("$"):
                text = text[:start] + value + text[end:]
            else:
                text = text.replace(f"${{{part.value}}}", value).replace(f"${part.value}", value)
        if any(p.kind in ("commandsubstitution", "processsubstitution") for p in _walk(word)):
            text += "\x00"
        if command_word and "\x00" in text:
            findings.hit("shell.indirect_command")
        return text

    def _judge_redirect(
        self, part: BashNode, code: str, ctx: ShellContext, findings: Findings
    ) -> None:
        target = part.output
        if not isinstance(target, BashNode) or target.kind != "word":
            return
        for inner in _substitutions(target):
            self._visit(inner, code, ctx, findings)
        path = self._expand(target, ctx, findings, command_word=False)
        self._judge_paths([path], findings)
        if path.startswith(("/dev/tcp/", "/dev/udp/")):
            findings.hit("shell.exfiltrate")
        if part.type in OUTPUT_REDIRECTS and path != "/dev/null":
            if path.startswith("/dev/") or path.startswith(self.system_paths):
                findings.hit("shell.device_write")
            else:
                findings.hit("shell.write")

    def _judge_paths(self, args: Sequence[str], findings: Findings) -> None:
        if any(cred in arg for arg in args for cred in self.credential_paths):
            findings.hit("shell.credential_read")

    def _judge_argv(
        self,
        argv: list[str],
        ctx: ShellContext,
        findings: Findings,
        stdin: str | None = None,
    ) -> None:
        name = posixpath.basename(argv[0])
        args = argv[1:]
        findings.statement_types[name] = None
        self._judge_paths(args, findings)
        if name in self.privileged:
            findings.hit("shell.privilege")
            self._judge_rest(args, ctx, findings)
        elif name in WRAPPERS:
            self._judge_wrapped(name, args, ctx, findings)
        elif name in ("eval", "source", "."):
            findings.hit("shell.eval")
            if name == "eval":
                self._analyze_script(" ".join(args), ctx.nested(), findings)
        elif name == "busybox" and args and args[0] not in SHELLS:
            self._judge_argv(args, ctx, findings, stdin)
        elif name in SHELLS:
            self._judge_nested_shell(args[1:] if name == "busybox" else args, ctx, findings, stdin)
        elif name in self.sql_clients:
            self._judge_sql_client(name, args, ctx, findings, stdin)
        else:
            self._judge_plain(name, args, ctx, findings)

    def _judge_rest(self, args: list[str], ctx: ShellContext, findings: Findings) -> None:
        rest = _drop_options(args)
        if rest:
            self._judge_argv(rest, ctx, findings)

    def _judge_wrapped(
        self, name: str, args: list[str], ctx: ShellContext, findings: Findings
    ) -> None:
        rest = _drop_options(args)
        if name == "env":
            rest = [a for a in rest if "=" not in a or a.startswith("/")]
        if name in ("timeout", "flock") and rest:
            rest = rest[1:]
        if name == "watch" and len(rest) == 1:
            self._analyze_script(rest[0], ctx.nested(), findings)
            return
        if not rest:
            if name in ("env", "exec"):
                findings.hit("shell.unknown_command")
            return
        unknown = ctx.targets_unknown or name in ("xargs", "parallel")
        self._judge_argv(rest, ctx.nested(targets_unknown=unknown), findings)

    def _judge_nested_shell(
        self, args: list[str], ctx: ShellContext, findings: Findings, stdin: str | None
    ) -> None:
        script = _shell_script_argument(args)
        if script is not None:
            self._analyze_script(script, ctx.nested(), findings)
        elif stdin is not None:
            self._analyze_script(stdin, ctx.nested(), findings)
        elif any(not a.startswith("-") for a in args):
            findings.hit("shell.unknown_command")  # a script file the policy cannot see
        else:
            findings.hit("shell.eval")

    def _judge_sql_client(
        self, name: str, args: list[str], ctx: ShellContext, findings: Findings, stdin: str | None
    ) -> None:
        dialect = self.sql_clients[name]
        texts = _client_sql(name, args)
        if stdin is not None and not texts:
            texts = [stdin]
        if not texts or any(a in ("-f", "--file") or a.startswith("--file=") for a in args):
            findings.hit("shell.sql_unseen")
        for text in texts:
            sql, shell = _split_client_commands(name, text)
            for command in shell:
                findings.hit("shell.eval")
                self._analyze_script(command, ctx.nested(), findings)
            if sql.strip():
                findings.merge(self.judge_sql(sql, dialect))

    def _judge_plain(
        self, name: str, args: list[str], ctx: ShellContext, findings: Findings
    ) -> None:
        if name in self.destroyers or name.split(".")[0] in self.destroyers:
            findings.hit("shell.destructive")
        elif name in self.killers or (name == "systemctl" and self._systemctl_kills(args)):
            findings.hit("shell.kill_shutdown")
        elif (
            name in self.remote
            or (name == "rsync" and self._has_remote(args))
            or (name == "openssl" and "s_client" in args)
        ):
            findings.hit("shell.exfiltrate")
        elif name in ("rm", "rmdir", "unlink", "chmod", "chown", "chgrp"):
            self._judge_removal(name, args, ctx, findings)
        elif name == "dd":
            self._judge_dd(args, findings)
        elif name in ("curl", "wget"):
            self._judge_download(name, args, findings)
        elif name == "find":
            self._judge_find(args, ctx, findings)
        elif name in ("awk", "gawk", "mawk", "nawk"):
            program = next((a for a in args if not a.startswith("-")), "")
            if re.search(r"system|\||>|getline", program):
                findings.hit("shell.interpreter")
        elif name == "sed":
            if any(a.startswith("-i") or a.startswith("--in-place") for a in args):
                findings.hit("shell.write")
        elif name in ("base64", "xxd", "gzip", "gunzip", "zcat"):
            return
        elif name in self.writers:
            self._judge_copy_like(args, findings)
        elif name in self.network:
            findings.hit("shell.network")
        elif name in self.interpreters:
            findings.hit("shell.interpreter")
        elif name not in self.read_only:
            findings.hit("shell.unknown_command")

    def _systemctl_kills(self, args: list[str]) -> bool:
        return any(a in self.systemctl_verbs for a in args)

    @staticmethod
    def _has_remote(args: list[str]) -> bool:
        return any(HOST_ARGUMENT.match(a) for a in args if not a.startswith("-"))

    def _judge_removal(
        self, name: str, args: list[str], ctx: ShellContext, findings: Findings
    ) -> None:
        findings.hit("shell.write")
        recursive = any(
            a in ("--recursive", "-R")
            or (a.startswith("-") and not a.startswith("--") and ("r" in a or "R" in a))
            for a in args
        )
        targets = [a for a in args if not a.startswith("-")]
        if name in ("chmod", "chown", "chgrp"):
            targets = targets[1:]
        unknown = ctx.targets_unknown or any("\x00" in t for t in targets)
        protected = any(self._protected(t) for t in targets)
        system = any(t.startswith(self.system_paths) for t in targets)
        if (recursive and (protected or unknown)) or (name in ("rm", "unlink") and system):
            findings.hit("shell.destructive")

    def _protected(self, path: str) -> bool:
        """Data and system paths: anything outside the safe prefixes and the work dir."""
        text = path.replace("\x00", "").strip()
        if text in ("", ".", "..", "*", "./*", "../*") or text.startswith(("~", "../", "$")):
            return True
        if not text.startswith("/"):
            return False
        normal = posixpath.normpath(text) + "/"
        return not normal.startswith(self.safe_prefixes)

    def _judge_dd(self, args: list[str], findings: Findings) -> None:
        findings.hit("shell.write")
        for arg in args:
            target = arg[3:] if arg.startswith("of=") else ""
            if target.startswith(("/dev/", *self.system_paths)) and target != "/dev/null":
                findings.hit("shell.destructive")

    def _judge_download(self, name: str, args: list[str], findings: Findings) -> None:
        findings.hit("shell.network")
        options = {a.split("=", 1)[0] for a in args if a.startswith("-")}
        if name == "curl":
            clusters = (a[1:] for a in args if a.startswith("-") and not a.startswith("--"))
            options |= {f"-{letter}" for cluster in clusters for letter in cluster}
        if options & (self.curl_uploads if name == "curl" else self.wget_uploads):
            findings.hit("shell.exfiltrate")
        if any(method.upper() in self.upload_methods for method in self._methods(args)):
            findings.hit("shell.exfiltrate")

    def _methods(self, args: list[str]) -> Iterator[str]:
        """HTTP methods given with ``-X POST``, ``-XPOST``, ``--request=PUT``, ``--method``."""
        for index, arg in enumerate(args):
            option, equals, value = arg.partition("=")
            if option in self.method_options:
                yield value if equals else (args[index + 1] if index + 1 < len(args) else "")
            elif arg.startswith("-X") and len(arg) > 2:
                yield arg[2:]

    def _judge_find(self, args: list[str], ctx: ShellContext, findings: Findings) -> None:
        first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
        roots = args[:first_option] or ["."]
        if "-delete" in args:
            findings.hit("shell.write")
            if any(self._protected(r) for r in roots):
                findings.hit("shell.destructive")
        for option in ("-fprint", "-fprint0", "-fprintf", "-fls"):
            if option in args:
                findings.hit("shell.write")
        for command in _find_exec_commands(args):
            self._judge_argv(command, ctx.nested(targets_unknown=True), findings)

    def _judge_copy_like(self, args: list[str], findings: Findings) -> None:
        findings.hit("shell.write")
        targets = [a for a in args if not a.startswith("-")]
        if targets and targets[-1].startswith(self.system_paths):
            findings.hit("shell.device_write")


def _options(pack: RulePack, name: str) -> frozenset[str]:
    """Command-line options are case-sensitive (``-F`` is not ``-f``)."""
    return frozenset(str(option) for option in pack.param("shell.exfiltrate", name) or ())


# ---- bashlex helpers --------------------------------------------------------------


def _children(node: BashNode) -> Iterator[BashNode]:
    for attr in ("parts", "list", "command", "output", "body"):
        value: Any = getattr(node, attr, None)
        if isinstance(value, BashNode):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, BashNode))


def _walk(node: BashNode) -> Iterator[BashNode]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def _substitutions(word: BashNode) -> Iterator[BashNode]:
    for part in getattr(word, "parts", None) or []:
        if part.kind in ("commandsubstitution", "processsubstitution"):
            yield part


def _parameters(word: BashNode) -> list[BashNode]:
    return [p for p in getattr(word, "parts", None) or [] if p.kind == "parameter"]


def _words(command: BashNode) -> list[str]:
    if command.kind != "command":
        return []
    return [str(p.word) for p in command.parts if p.kind == "word"]


def _first_word(command: BashNode) -> str | None:
    words = _words(command)
    return words[0] if words else None


def _command_name(command: BashNode) -> str:
    words = [w for w in _words(command) if w not in WRAPPERS]
    return posixpath.basename(words[0]) if words else ""


def _heredoc(command: BashNode) -> str | None:
    for part in getattr(command, "parts", None) or []:
        heredoc = getattr(part, "heredoc", None) if part.kind == "redirect" else None
        if heredoc is not None:
            body = str(heredoc.value)
            return body.rsplit("\n", 1)[0] if "\n" in body else ""
    return None


def _shell_script_argument(args: list[str]) -> str | None:
    """The script of ``sh -c SCRIPT``, also with joined flags (``bash -lc SCRIPT``)."""
    for index, arg in enumerate(args):
        if arg.startswith("-") and not arg.startswith("--") and "c" in arg:
            rest = [a for a in args[index + 1 :] if not a.startswith("-")]
            return rest[0] if rest else ""
    return None


def _piped_text(command: BashNode) -> str | None:
    """The text ``echo``/``printf``/``cat <<EOF`` feeds into the next command of a pipe."""
    words = _words(command)
    if words[:1] in (["echo"], ["printf"]):
        rest = words[1:]
        while rest and rest[0] in ("-n", "-e", "-E", "-ne", "-en"):
            rest.pop(0)
        return " ".join(rest)
    return _heredoc(command) if words[:1] == ["cat"] else None


def _herestring(command: BashNode) -> str | None:
    for part in getattr(command, "parts", None) or []:
        if part.kind == "redirect" and part.type == "<<<" and isinstance(part.output, BashNode):
            return str(part.output.word)
    return None


def _quoted_differently(word: BashNode, code: str) -> bool:
    raw = code[word.pos[0] : word.pos[1]]
    return raw != word.word and any(ch in raw for ch in "'\"\\")


def _drop_options(args: list[str]) -> list[str]:
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option in WRAPPER_VALUE_OPTIONS and rest:
            rest.pop(0)
    return rest


def _find_exec_commands(args: list[str]) -> Iterator[list[str]]:
    index = 0
    while index < len(args):
        if args[index] in ("-exec", "-execdir", "-ok", "-okdir"):
            end = index + 1
            while end < len(args) and args[end] not in (";", "+"):
                end += 1
            command = args[index + 1 : end]
            if command:
                yield command
            index = end
        index += 1


CLIENT_SHELL_ESCAPES = {
    # bashlex drops the backslash of "\\!" inside double quotes, bash keeps it: match both.
    "psql": re.compile(r"\\!\s*(.*)|^\s*!\s*(.*)|\\(?:o|out|g|gx|w|write)\s*\|(.*)"),
    "mysql": re.compile(r"(?:\\!|^\s*system\b)\s*(.*)|(?:^\s*pager\b)\s*(.*)", re.I),
    "duckdb": re.compile(r"^\s*\.(?:shell|system|sh)\b\s*(.*)|^\s*\.(?:once|output)\s*\|(.*)"),
}
CLIENT_SHELL_ESCAPES["mariadb"] = CLIENT_SHELL_ESCAPES["mysql"]
CLIENT_SHELL_ESCAPES["sqlite3"] = CLIENT_SHELL_ESCAPES["duckdb"]
CLIENT_META = {"psql": "\\", "duckdb": ".", "sqlite3": "."}


def _split_client_commands(name: str, text: str) -> tuple[str, list[str]]:
    """Client meta-commands (``\\!``, ``system``, ``.shell``) run shell code; split it out.

    Other meta-command lines are dropped from the SQL: they do not reach the server.
    """
    sql_lines: list[str] = []
    shell: list[str] = []
    escape = CLIENT_SHELL_ESCAPES[name]
    meta = CLIENT_META.get(name)
    for line in text.splitlines():
        match = escape.search(line)
        if match:
            shell.append(next(group for group in match.groups() if group is not None))
        elif not (meta and line.lstrip().startswith(meta)):
            sql_lines.append(line)
    return "\n".join(sql_lines), shell


def _client_sql(name: str, args: list[str]) -> list[str]:
    """SQL given on a database client's command line."""
    flags = {
        "psql": ("-c", "--command"),
        "mysql": ("-e", "--execute"),
        "mariadb": ("-e", "--execute"),
        "duckdb": ("-c", "-s", "-cmd"),
        "sqlite3": ("-cmd",),
    }[name]
    texts: list[str] = []
    index = 0
    positional: list[str] = []
    while index < len(args):
        arg = args[index]
        long_value = next((arg.split("=", 1)[1] for f in flags if arg.startswith(f"{f}=")), None)
        if arg in flags and index + 1 < len(args):
            texts.append(args[index + 1])
            index += 1
        elif long_value is not None:
            texts.append(long_value)
        elif name in ("psql", "mysql", "mariadb") and any(
            arg.startswith(f) and len(arg) > 2 for f in flags if len(f) == 2
        ):
            texts.append(arg[2:])
        elif not arg.startswith("-"):
            positional.append(arg)
        index += 1
    if name in ("duckdb", "sqlite3") and len(positional) > 1:
        texts.extend(positional[1:])
    return texts
