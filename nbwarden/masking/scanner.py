"""Find personal data spans in strings: profile regexes with checksums and context."""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import re2  # type: ignore[import-untyped]

from nbwarden.caches import BoundedCache
from nbwarden.identifiers import PERSON
from nbwarden.masking.profile import PatternSpec, Profile, RecognizerSpec

_VALUE_GROUP = re.compile(r"\(\?P<value>")
_INLINE_FLAGS = re.compile(r"^\(\?i\)")
_LOOKAROUND = re.compile(r"\(\?(<?[!=])((?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*)\)")
"""A lookahead or lookbehind, with groups inside it one level deep."""
_LINE_START = "(?<![^\\n])"
_UNICODE_BOUNDARY = re.compile(r"(?<!\\)\\b(?=\[[^\]]*[^\x00-\x7f])")
_LAST_WORD = re.compile(r"(\w+)\W*$")
CANDIDATE_CACHE_ENTRIES = 50_000
CANDIDATE_CACHE_MAX_VALUES = 2000
"""Larger arrays skip the cache: a long result's values are seldom met again."""
CANDIDATE_CACHE_MAX_CHARS = 1000
"""Longer texts are not cached: with the entry limit, this bounds the cache to about 50 MB."""
RE2_SET_MAX_MEM = 64 << 20
_MARK = "\x01\x02\x03\n"
"""Put before every text the RE2 set reads, and matched by a pattern of its own: the set
answers nothing at all when its automaton runs out of memory, which without the mark
would read as "no rule matches". The line break keeps a line's start a line's start."""


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    entity: str
    score: float

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


FEW_SPANS = 32
"""Up to this many spans, comparing each with every other is quicker than indexing them."""


class _SpanIndex:
    """Spans in the order they are added; beyond ``FEW_SPANS`` also in runs of ascending
    start (a rule's matches come in text order), so the spans overlapping one are found
    by bisection in each run: two overlapping spans start less than the longest span's
    length apart."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._runs: list[tuple[list[int], list[Span]]] = []
        self._longest = 0

    def add(self, span: Span) -> None:
        self.spans.append(span)
        if not self._runs or self._runs[-1][0][-1] > span.start:
            self._runs.append(([], []))
        starts, spans = self._runs[-1]
        starts.append(span.start)
        spans.append(span)
        self._longest = max(self._longest, span.end - span.start)

    def has_stronger_overlap(self, span: Span) -> bool:
        """Whether a span with a higher score than ``span`` overlaps it."""
        if len(self.spans) <= FEW_SPANS:
            return any(o.score > span.score and o.overlaps(span) for o in self.spans)
        for starts, spans in self._runs:
            first = bisect.bisect_right(starts, span.start - self._longest)
            past = bisect.bisect_left(starts, span.end, first)
            if any(o.score > span.score and o.overlaps(span) for o in spans[first:past]):
                return True
        return False


@dataclass(frozen=True)
class _Rule:
    recognizer: RecognizerSpec
    pattern: PatternSpec
    has_value_group: bool
    re2: str
    needs_context: bool
    """Scores below the threshold: a match counts only after a context word (or, when
    lenient, as a whole value), so without a context word in the text it cannot count."""


def _re2_form(regex: str) -> str:
    """The pattern as RE2 takes it inside an alternation (no duplicate group names).

    RE2's ``\\b`` knows only ASCII letters: before a class of non-ASCII letters (``Ä``
    in ``Ängsgatan``) it would miss what Python's pattern matches, so it is dropped
    there; RE2 then matches a superset and Python's pattern decides. Elsewhere it stays:
    next to ASCII it matches a superset already, and keeps the prefilter selective.
    RE2 has no lookarounds; dropping one (``(?![A-Z]{2,4}\b)``) also widens the match.
    A lookahead that ends the pattern, or a lookbehind that starts it, is matched as text
    instead (``(?= +pts/\\d+)``): a login name's pattern is a bare word without its context,
    and a prefilter that passes every word costs a Python search of every value."""
    body = _UNICODE_BOUNDARY.sub("", _VALUE_GROUP.sub("(?:", regex))
    body = _LOOKAROUND.sub(_re2_lookaround, body)
    if _INLINE_FLAGS.match(body):
        body = "(?i:" + body[4:] + ")"
    return body


def _rule_set(rules: list[_Rule]) -> Any:
    """The rules' RE2 forms compiled once into one RE2 set, which tells in one pass over a
    text which of them match: about a microsecond for a short value, where searching the
    rules' own patterns one by one took a few hundred, and compiling them for Arrow's RE2
    on every column took milliseconds."""
    options = re2.Options()
    options.max_mem = RE2_SET_MAX_MEM
    rule_set = re2.Set.SearchSet(options)
    for rule in rules:
        rule_set.Add(rule.re2)
    rule_set.Add(re.escape(_MARK[:-1]))
    rule_set.Compile()
    return rule_set


def _re2_lookaround(match: re.Match[str]) -> str:
    kind, inner = match.group(1), match.group(2)
    if match.group(0) == _LINE_START:
        return "(?m:^)"
    at_end = kind == "=" and match.end() == len(match.string)
    at_start = kind == "<=" and match.start() == 0
    if (at_end or at_start) and "(?" not in inner.replace("(?:", ""):
        return f"(?:{inner})"
    return ""


class TextScanner:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rules = [
            _Rule(
                spec,
                pattern,
                "value" in pattern.compiled.groupindex,
                _re2_form(pattern.regex),
                pattern.score < profile.thresholds.min_score,
            )
            for spec in profile.recognizers
            for pattern in spec.patterns
        ]
        self._rule_set = _rule_set(self.rules)
        self._mark_index = len(self.rules)
        ranking = sorted(range(len(self.rules)), key=lambda i: -self.rules[i].pattern.score)
        self._by_score = {index: rank for rank, index in enumerate(ranking)}
        self._candidates: BoundedCache[str, list[int]] = BoundedCache(CANDIDATE_CACHE_ENTRIES)
        self._suffixes = {
            spec.entity: spec.suffix for spec in profile.recognizers if spec.suffix is not None
        }

    def clear_cache(self) -> None:
        self._candidates.clear()

    def parts(self, entity: str, text: str) -> list[tuple[int, int]]:
        """Where ``text``, a value of a column of ``entity``, holds that entity, when it is
        not one such value as a whole (``Bob Stone <bob@example.org>``, two addresses)."""
        indices = [i for i, rule in enumerate(self.rules) if rule.recognizer.entity == entity]
        spans = [s for s in self.find(text, indices, lenient=True) if s.entity == entity]
        if len(spans) == 1 and _whole(text, spans[0].start, spans[0].end):
            return []
        return [(span.start, span.end) for span in spans]

    def candidate_rules(self, values: pa.Array) -> dict[int, list[int]]:
        """Position -> indices of the rules whose regex may match the value there (their
        RE2 forms do: a superset of what their own patterns match).

        Values absent from the mapping match no rule. In small arrays, values met before
        (a column's sample while classifying it, then the column itself) are answered from
        a cache.
        """
        rules_of = self._rules_of if len(values) > CANDIDATE_CACHE_MAX_VALUES else self._cached
        hits: dict[int, list[int]] = {}
        for position, text in enumerate(values.to_pylist()):
            found = rules_of(text) if text is not None else None
            if found:
                hits[position] = found
        return hits

    def _cached(self, text: str) -> list[int]:
        found = self._candidates.get(text)
        if found is None:
            found = self._rules_of(text)
            if len(text) <= CANDIDATE_CACHE_MAX_CHARS:
                self._candidates.put(text, found)
        return found

    def _rules_of(self, text: str) -> list[int]:
        """One pass of the compiled RE2 set over the text; the rules' own patterns one by
        one where the set failed."""
        found: list[int] | None = self._rule_set.Match(_MARK + text)
        if found is None or self._mark_index not in found:
            return [i for i, rule in enumerate(self.rules) if rule.pattern.compiled.search(text)]
        found.remove(self._mark_index)
        found.sort()
        return found

    def find(
        self,
        text: str,
        rule_indices: Sequence[int] | None = None,
        lenient: bool = False,
        min_cover: float = 0.0,
    ) -> list[Span]:
        """Validated spans, overlaps resolved (higher score, then longer span wins).

        ``lenient``: in a column known to hold identifiers (the column is the context),
        a value that is entirely one validated identifier counts whatever its score.
        ``min_cover``: only matches covering this share of the stripped text (classifying
        a column needs whole values, and skipping the rest saves validation time).
        """
        indices = range(len(self.rules)) if rule_indices is None else rule_indices
        spans = _SpanIndex()
        lowered: str | None = None
        for index in sorted(indices, key=self._by_score.__getitem__):
            rule = self.rules[index]
            if rule.needs_context and not lenient:
                lowered = text.lower() if lowered is None else lowered
                if not self._may_have_context(rule.recognizer, lowered):
                    continue
            self._rule_spans(rule, text, lenient, min_cover, spans)
        return self._grow(text, resolve_overlaps(spans.spans))

    def _may_have_context(self, spec: RecognizerSpec, lowered: str) -> bool:
        if any(word in lowered for word in spec.context):
            return True
        generic = self.profile.generic_id_context
        return (
            spec.generic_id_context
            and generic is not None
            and any(word in lowered for word in generic.words)
        )

    def _grow(self, text: str, spans: list[Span]) -> list[Span]:
        """Grow each span over what its recognizer's ``suffix`` matches right after it
        (a postcode and town after a street), up to the next span."""
        grown = spans
        for index, span in enumerate(spans):
            suffix = self._suffixes.get(span.entity)
            match = suffix.match(text, span.end) if suffix is not None else None
            if match is None or match.end() == span.end:
                continue
            limit = spans[index + 1].start if index + 1 < len(spans) else len(text)
            if match.end() <= limit:
                grown = grown if grown is not spans else list(spans)
                grown[index] = Span(span.start, match.end(), span.entity, span.score)
        return grown

    def _rule_spans(
        self, rule: _Rule, text: str, lenient: bool, min_cover: float, found: _SpanIndex
    ) -> None:
        """Append the rule's validated spans to ``found``. Rules come strongest first, and a
        match that a stronger span already overlaps is not validated: it would lose anyway."""
        thresholds = self.profile.thresholds
        shortest = min_cover * len(text.strip())
        for match in rule.pattern.compiled.finditer(text):
            start, end = match.span("value") if rule.has_value_group else match.span()
            if end - start < shortest or _glued(text, start, end):
                continue
            score = rule.pattern.score
            if score < thresholds.min_score and self._has_context(rule, text, start):
                score += thresholds.context_boost
            if score < thresholds.min_score and not (lenient and _whole(text, start, end)):
                continue
            span = Span(start, end, rule.recognizer.entity, score)
            if found.has_stronger_overlap(span):
                continue
            validator = rule.recognizer.validator
            if validator is not None and not validator(text[start:end]):
                end = _validated_prefix(rule, text, start, end) or start
                if end == start or end - start < shortest:
                    continue
                span = Span(start, end, rule.recognizer.entity, score)
            found.add(span)

    def _has_context(self, rule: _Rule, text: str, start: int) -> bool:
        window = text[max(0, start - self.profile.thresholds.context_window) : start].lower()
        if any(word in window for word in rule.recognizer.context):
            return True
        return rule.recognizer.generic_id_context and self._generic_id_before(text, start)

    def _generic_id_before(self, text: str, start: int) -> bool:
        """Whether a generic word for a personal ID stands right before ``start``, not
        after a word naming a business reference (``Order ID``, ``Customer ID``)."""
        generic = self.profile.generic_id_context
        if generic is None:
            return False
        window_start = max(0, start - self.profile.thresholds.context_window)
        match = generic.before_value.search(text, window_start, start)
        if match is None:
            return False
        before = _LAST_WORD.search(text, max(0, window_start - 20), match.start("word"))
        return before is None or before.group(1).lower() not in generic.not_after


def _validated_prefix(rule: _Rule, text: str, start: int, end: int) -> int | None:
    """The end of the longest part of a rejected match that stops before a separator and
    is itself a match the validator accepts: a pattern for identifiers written in groups
    can read on into the next word (``BE66 0119 0437 7843 for``)."""
    validator = rule.recognizer.validator
    if validator is None or rule.has_value_group:
        return None
    cut = end
    while (cut := max(text.rfind(" ", start, cut), text.rfind("-", start, cut))) > start:
        prefix = text[start:cut].rstrip(" -")
        stop = start + len(prefix)
        if rule.pattern.compiled.fullmatch(text, start, stop) and validator(prefix):
            return stop
    return None


def _whole(text: str, start: int, end: int) -> bool:
    return not text[:start].strip() and not text[end:].strip()


def _glued(text: str, start: int, end: int) -> bool:
    """Whether a match is part of a longer token (a UUID, a timestamp, a product code)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    if before.isalnum() or after.isalnum():
        return True
    if after in "-:" and end + 1 < len(text) and text[end + 1].isalnum():
        return True
    return before in "-:" and start > 1 and text[start - 2].isdigit()


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: the higher score wins, then the longer span. An identifier
    or address that encloses another span wins over it whatever their scores, so that
    none of it stays readable (a known name inside a street name, the ``DE`` of an IBAN,
    the last digits of a longer phone match); so does a name enclosing another name."""
    if len(spans) > FEW_SPANS:
        return _resolve_many(spans)
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-_rank(s, spans), -(s.end - s.start), s.start)):
        if not any(span.overlaps(other) for other in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _rank(span: Span, spans: list[Span]) -> float:
    """A span ranks as the strongest span it encloses; a name only among names, so that
    ``Stone, Bob`` wins over NER's ``Bob`` and no name wins over an identifier in it. A
    span of the same extent is a rival, not enclosed: the stronger of the two wins (an
    NHS number after ``NHS``, over the phone number its digits also spell)."""
    inside = [
        o.score
        for o in spans
        if o is span
        or (
            span.start <= o.start
            and o.end <= span.end
            and (o.start, o.end) != (span.start, span.end)
            and (span.entity != PERSON or o.entity == PERSON)
        )
    ]
    return max(inside)


def _resolve_many(spans: list[Span]) -> list[Span]:
    """``resolve_overlaps`` for many spans (a long log holds tens of thousands), where
    comparing each with every other took minutes: a span's rank reads only the spans
    that start inside it, and the characters taken so far are marked in a bytearray, so
    checking a span costs its own length. Empty spans mask nothing and are left out."""
    spans = [span for span in spans if span.end > span.start]
    by_start = sorted(spans, key=lambda s: s.start)
    starts = [span.start for span in by_start]

    def rank(span: Span) -> float:
        first = bisect.bisect_left(starts, span.start)
        past = bisect.bisect_left(starts, span.end, first)
        return _rank(span, by_start[first:past])

    taken = bytearray(max((span.end for span in spans), default=0))
    chosen: list[Span] = []
    for span in sorted(spans, key=lambda s: (-rank(s), -(s.end - s.start), s.start)):
        if taken.find(1, span.start, span.end) == -1:
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def replace_spans(text: str, spans: Sequence[Span], replacements: Sequence[str]) -> str:
    parts: list[str] = []
    cursor = 0
    for span, replacement in zip(spans, replacements, strict=True):
        parts.append(text[cursor : span.start])
        parts.append(replacement)
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)
