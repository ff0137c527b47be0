"""Person names in free text: spaCy NER, run batched and only where it can matter."""

from __future__ import annotations

import bisect
import gc
import importlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from nbwarden.caches import BoundedCache
from nbwarden.identifiers import PERSON, given_name_first
from nbwarden.masking.errors import STOPPED, MaskingError
from nbwarden.masking.name_lists import NAME_WORD, ListedNames, english_words
from nbwarden.masking.profile import Profile
from nbwarden.masking.scanner import Span, resolve_overlaps

_TOKEN = re.compile(r"\S+")
_PUNCTUATION = ".,;:!?()[]{}\"'\u2018\u2019\u201c\u201d"
_CLOSING = ")]}\"'\u2019\u201d"
_NOT_AN_ENTITY_EDGE = "\"'`()[]{}<>,;:!?\u2018\u2019\u201a\u201c\u201d\u201e\u00ab\u00bb"
WINDOW_WORDS_BEFORE = 4
WINDOW_WORDS_AFTER = 3
OTHER_LANGUAGES = ("de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "cs", "hu", "ro")
"""EU languages in Latin letters whose stop words tell a text written in them from English
(spaCy ships the lists with its code, no model needed)."""
_WORD = re.compile(r"[^\W\d_]+")
_NOT_IN_A_NAME = re.compile(r"[\t\n\v\f\r|\x1c-\x1e\x85\u2028\u2029]+|[^\s|]*\d[^\s|]*")
"""What ends a line or a field (``psql -At`` separates fields with ``|``), and words with
digits: no name goes on past either."""
NER_BATCH_SIZE = 64
"""Texts per ``nlp.pipe`` batch, and between two questions to a caller's ``stop``: as fast as
512 on CPU (notes and 500-character windows alike), and a batch of long windows takes
under half a second, not four."""
NER_CACHE_ENTRIES = 100_000
NER_CACHE_MAX_CHARS = 500
"""Longer texts are not cached: with the entry limit, this bounds the cache to about 50 MB."""
MAX_WINDOW_CHARS = NER_CACHE_MAX_CHARS
"""Overlapping windows merge up to this length; past it the next starts with its own
context. Lines of names without a full stop (log lines, a listing) otherwise merged into
one window of the whole text: NER read it as one document, which no ``stop`` could
interrupt and no cache could hold."""


def sentence_case(text: str) -> str | None:
    """``text`` with each all-capitals word capitalised (``JOHN SMITH`` -> ``John Smith``),
    when the whole text is written in capitals, as legacy systems and some forms write
    notes; else None. spaCy's NER finds names through capitalisation and finds none in
    capitals. Offsets are kept: a word whose lower case has another length stays as it is.
    """
    if not text.isupper() or " " not in text.strip():
        return None
    return NAME_WORD.sub(_capitalised, text)


def _capitalised(match: re.Match[str]) -> str:
    word = match.group()
    if not word.isupper() or len(word) < 2:
        return word
    rest = word[1:].lower()
    return word[0] + rest if len(rest) == len(word) - 1 else word


class NameFinder:
    """Wraps one spaCy pipeline with only the NER component (and what it listens to).

    spaCy does not promise that one pipeline may run in several threads at once, and the
    gateway masks in a thread pool: every use of the pipeline holds ``_lock``.
    """

    def __init__(self, model: str, profile: Profile) -> None:
        self._model_name = model
        self._labels = profile.ner_entities
        self._common = profile.common_capitalised
        self._common_folded = frozenset(word.casefold() for word in profile.common_capitalised)
        self._particles = profile.name_particles
        self._salutations = profile.salutations
        self._suffixes = profile.name_suffixes
        self._name_lists = profile.name_lists
        self._listed: ListedNames | None = None
        self._nlp: Any = None
        self._stop_words: frozenset[str] = frozenset()
        self._lock = threading.RLock()
        self._found: BoundedCache[str, tuple[Span, ...]] = BoundedCache(NER_CACHE_ENTRIES)
        self._listed_found: BoundedCache[str, list[Span]] = BoundedCache(NER_CACHE_ENTRIES)
        self._extended: BoundedCache[_TextSpans, list[Span]] = BoundedCache(NER_CACHE_ENTRIES)
        self._windows: BoundedCache[_TextSpans, list[tuple[int, int]]] = BoundedCache(
            NER_CACHE_ENTRIES
        )
        """Answers of the pure steps of the free-text path, per text (and the spans it is
        given), so a re-run cell's notes cost a lookup each, as NER's answers do."""
        self._english: BoundedCache[str, bool] = BoundedCache(NER_CACHE_ENTRIES)
        self._whole_names: BoundedCache[str, bool] = BoundedCache(NER_CACHE_ENTRIES)
        """:meth:`is_person` per value: the next page of a result shares most of its column
        samples with this one, and each sample changed by one value cost NER on all."""

    def _pipeline(self) -> Any:
        with self._lock:
            if self._nlp is None:
                self._nlp = load_ner_pipeline(self._model_name)
                self._stop_words = frozenset(self._nlp.Defaults.stop_words)
                english = english_words(self._nlp)
                self._listed = ListedNames(self._name_lists, self._particles, english)
        return self._nlp

    def reads_english(self, text: str) -> bool:
        """Whether ``text`` is not written in another language: at least two of its words
        are stop words of one of ``OTHER_LANGUAGES`` (and not of English), more than are
        English stop words. Cached per text."""
        return _memo(self._english, text, text, lambda: self._reads_english(text))

    def _reads_english(self, text: str) -> bool:
        self._pipeline()
        words = _WORD.findall(text.casefold())
        english = sum(word in self._stop_words for word in words)
        others = _other_stop_words()
        other = sum(word in others for word in words)
        return other < 2 or other <= english

    def holds_listed_name(self, text: str) -> bool:
        """Whether a word of ``text`` is a listed given or family name."""
        self._pipeline()
        return self._listed is not None and self._listed.holds_name(text)

    def listed(self, text: str) -> list[Span]:
        """Names starting with a listed given name (``name_lists``), before NER."""
        found: list[Span] = _memo(self._listed_found, text, text, lambda: self._listed_spans(text))
        return list(found)

    def _listed_spans(self, text: str) -> list[Span]:
        self._pipeline()
        return self._listed.spans(text) if self._listed else []

    def windows(self, text: str, covered: Sequence[Span]) -> list[tuple[int, int]]:
        """Character ranges of ``text`` worth running NER on.

        spaCy's English NER finds names through capitalisation, so only capitalised
        words outside known spans, stop words and the profile's common words can start a
        PERSON. Each such word gets a few words of context on either side; running NER on
        these windows instead of whole texts saves most of its time.
        """
        key = (text, tuple(covered))
        return _memo(self._windows, key, text, lambda: self._find_windows(text, covered))

    def _find_windows(self, text: str, covered: Sequence[Span]) -> list[tuple[int, int]]:
        self._pipeline()
        words = list(_TOKEN.finditer(text))
        taken = covered_characters(text, covered)
        wanted: list[int] = []
        for index, token in enumerate(words):
            word = token.group().strip(_PUNCTUATION)
            if len(word) < 2 or not word[0].isupper() or word.isupper():
                continue
            if word in self._common or word.lower() in self._stop_words:
                continue
            if taken[token.start()]:
                continue
            wanted.append(index)
        ranges: list[tuple[int, int]] = []
        for index in wanted:
            first = max(0, index - WINDOW_WORDS_BEFORE)
            last = _window_end(words, index)
            merged = ranges[-1][0] if ranges and first <= ranges[-1][1] + 1 else None
            if merged is not None and words[last].end() - words[merged].start() <= MAX_WINDOW_CHARS:
                ranges[-1] = (merged, last)
            else:
                ranges.append((first, last))
        return [(words[first].start(), words[last].end()) for first, last in ranges]

    def extend(self, text: str, spans: list[Span]) -> list[Span]:
        """Grow PERSON spans over the rest of the name: neighbouring capitalised words
        and particles ("Nina van der Heiden"), so no part of a name stays readable.
        Words inside other entities' spans are not taken. Cached per text and spans."""
        if not any(span.entity == PERSON for span in spans):
            return spans
        key = (text, tuple(spans))
        grown: list[Span] = _memo(self._extended, key, text, lambda: self._extend(text, spans))
        return list(grown)

    def _extend(self, text: str, spans: list[Span]) -> list[Span]:
        others = covered_characters(text, (span for span in spans if span.entity != PERSON))
        words = [w for w in NAME_WORD.finditer(text) if not others[w.start()]]
        starts = [w.start() for w in words]
        capitals = not text.isupper()
        grown = [
            self._without_suffixes(text, self._grow(text, words, starts, span, capitals))
            if span.entity == PERSON
            else span
            for span in spans
        ]
        kept = [
            self._without_words_before(text, span, found) if span.entity == PERSON else span
            for span, found in zip(grown, spans, strict=True)
            if not self._refutes(text, span)
        ]
        return resolve_overlaps(kept)

    def _without_words_before(self, text: str, grown: Span, found: Span) -> Span:
        """``grown`` without the English (or Greek or Cyrillic) words that are no listed name
        at its start: those it took in before ``found`` (``Today`` in ``Today Charlotte
        Jones called``), and NER's own before a listed given name (``Applicant Jonathan
        Wilson``, ``Клиентът Георги Иванов``). The person,
        and the subject a request for her finds, is ``Charlotte Jones``. The span grown
        over them still tells a thing (``Milano Rug``) from a person."""
        if self._listed is None:
            return grown
        words = list(NAME_WORD.finditer(text, grown.start, grown.end))
        dropped = 0
        while dropped < len(words) - 1 and self._listed.is_no_name_before(
            words[dropped].group().casefold()
        ):
            dropped += 1
        added = sum(word.start() < found.start for word in words)
        if dropped > added and not self._listed.is_given_name(words[dropped].group()):
            dropped = added
        if not dropped:
            return grown
        return Span(words[dropped].start(), grown.end, grown.entity, grown.score)

    def _without_suffixes(self, text: str, span: Span) -> Span:
        """``span`` ending before the suffixes after a name (``Jr``, ``MD``), as NER often
        takes them in; a span of a suffix alone stays as it is."""
        words = list(NAME_WORD.finditer(text, span.start, span.end))
        while len(words) > 1 and words[-1].group() in self._suffixes:
            words.pop()
        end = words[-1].end() if words else span.end
        return span if end == span.end else Span(span.start, end, span.entity, span.score)

    def trim(self, text: str, spans: list[Span]) -> list[Span]:
        """PERSON spans without the common words and stop words at their edges; a span of
        nothing else is dropped. For a text written in capitals, where NER has no case to
        go by and takes in ``Customer`` or reads ``REF IBAN`` as a name."""
        trimmed: list[Span] = []
        for span in spans:
            words = [
                w
                for w in NAME_WORD.finditer(text, span.start, span.end)
                if w.group().casefold() not in self._common_folded
                and w.group().lower() not in self._stop_words
            ]
            if span.entity != PERSON:
                trimmed.append(span)
            elif words:
                trimmed.append(Span(words[0].start(), words[-1].end(), PERSON, span.score))
        return trimmed

    def _grow(
        self,
        text: str,
        words: list[re.Match[str]],
        starts: list[int],
        span: Span,
        capitals: bool,
    ) -> Span:
        """``capitals``: words in capitals count as name words (``Jean DUPONT``); not in a
        text wholly in capitals, where every word is. ``starts``: where the words start."""
        first = bisect.bisect_left(starts, span.start)
        past = bisect.bisect_left(starts, span.end, first)
        if first == past:
            return span
        first, last = self._grown(text, words, first, past - 1, capitals)
        names = [w.group() for w in words[first : last + 1] if w.group() not in self._particles]
        if len(names) == 1:
            first, last = self._across_comma(text, words, first, last)
            first, last = self._grown(text, words, first, last, capitals)
        start, end = min(span.start, words[first].start()), max(span.end, words[last].end())
        return Span(start, end, span.entity, span.score)

    def _grown(
        self, text: str, words: list[re.Match[str]], first: int, last: int, capitals: bool
    ) -> tuple[int, int]:
        while (step := self._name_step(text, words, last, +1, capitals)) is not None:
            last = step
        while (step := self._name_step(text, words, first, -1, capitals)) is not None:
            first = step
        return first, last

    def _across_comma(
        self, text: str, words: list[re.Match[str]], first: int, last: int
    ) -> tuple[int, int]:
        """A name of one word (and particles) with the rest of it across a comma, as
        registers write names (``Stone, Bob``): the given name after a surname, unless a
        salutation comes before it (``Dear Anna, Great news``); the surname before a given
        name that opens the text or a field (``Stone, Bob called``, ``Name: Stone, Bob``)."""
        after, before = last + 1, first - 1
        if after < len(words) and self._comma_between(text, words, last, after):
            previous = words[before].group() if before >= 0 else ""
            if previous not in self._salutations and self._is_name_word(words[after].group()):
                return first, after
        if before >= 0 and self._comma_between(text, words, before, first):
            surname = before
            while surname > 0 and words[surname - 1].group() in self._particles:
                surname -= 1
            opening = text[: words[surname].start()].rstrip(" ")
            if opening[-1:] in ("", ":", "\n") and self._is_name_word(words[before].group()):
                return surname, last
        return first, last

    @staticmethod
    def _comma_between(text: str, words: list[re.Match[str]], left: int, right: int) -> bool:
        return text[words[left].end() : words[right].start()] == ", "

    def _is_name_word(self, word: str) -> bool:
        """Capitalised, or in capitals, and not a common or stop word."""
        return (
            word[0].isupper()
            and len(word) > 1
            and word.casefold() not in self._common_folded
            and word.lower() not in self._stop_words
        )

    def _name_step(
        self, text: str, words: list[re.Match[str]], edge: int, direction: int, capitals: bool
    ) -> int | None:
        """Index of the next capitalised name word beyond ``edge``, across particles."""
        index = edge + direction
        while 0 <= index < len(words):
            left, right = sorted((index, index - direction))
            if text[words[left].end() : words[right].start()] != " ":
                return None
            word = words[index].group()
            if word in self._suffixes:
                return None
            if word in self._particles:
                index += direction
                continue
            if not word.isupper() and word[0].isupper() and word not in self._common:
                return index
            if capitals and word.isupper() and self._is_name_word(word):
                return index
            return None
        return None

    def find(
        self, texts: Sequence[str], stop: Callable[[], bool] | None = None
    ) -> list[list[Span]]:
        """PERSON (and other configured) spans for each text, in one ``nlp.pipe`` run.

        NER's answer for a text does not depend on the rest of the batch, so answers are
        cached per text (windows are short): a re-run cell or the next page of a result
        with free text skips most of NER, which is most of its cost. ``stop`` is asked
        after each batch of ``NER_BATCH_SIZE`` texts (:class:`MaskingError` once true).
        """
        found: list[tuple[Span, ...] | None] = [self._found.get(text) for text in texts]
        missing = [index for index, spans in enumerate(found) if spans is None]
        if missing:
            answers = self._ner([texts[i] for i in missing], stop)
            for index, spans in zip(missing, answers, strict=True):
                found[index] = spans
                self._remember(texts[index], spans)
        return [list(spans or ()) for spans in found]

    def _ner(
        self, texts: list[str], stop: Callable[[], bool] | None = None
    ) -> list[tuple[Span, ...]]:
        nlp = self._pipeline()
        try:
            with self._lock:
                docs = []
                for doc in nlp.pipe(texts, batch_size=NER_BATCH_SIZE):
                    docs.append(doc)
                    if stop is not None and len(docs) % NER_BATCH_SIZE == 0 and stop():
                        raise MaskingError(STOPPED)
            return [self._spans(doc) for doc in docs]
        except MaskingError:
            raise
        except Exception as exc:
            raise MaskingError(f"named-entity recognition failed: {type(exc).__name__}") from None

    def _spans(self, doc: Any) -> tuple[Span, ...]:
        text = doc.text  # spaCy joins its tokens again at each read
        return tuple(
            span
            for ent in doc.ents
            if ent.label_ in self._labels
            for span in self._ner_spans(
                text, ent.start_char, ent.end_char, self._labels[ent.label_]
            )
        )

    def _ner_spans(self, text: str, start: int, end: int, entity_type: str) -> list[Span]:
        """NER's entity as spans, one per line or field it covers, without words with
        digits.

        NER reads across line breaks: it takes two records' names for one person, or one
        record's last word with the next one's name (``Glen\\nPatient Charlotte Jones``).
        One placeholder over them loses the line, and its subject is nobody's. It also
        takes numbers in (``Tel 089/1234567``): such a span won over the phone number,
        and when the name lists then refuted it (Tel is a town), neither was masked."""
        edges = [start]
        for found in _NOT_IN_A_NAME.finditer(text, start, end):
            edges += found.span()
        edges.append(end)
        spans = []
        for index in range(0, len(edges), 2):
            piece = self._within_record(
                text, edges[index], edges[index + 1], index > 0, index + 2 < len(edges)
            )
            if piece and (span := _ner_span(text, *piece, entity_type)):
                spans.append(span)
        return spans

    def _within_record(
        self, text: str, start: int, end: int, after_break: bool, before_break: bool
    ) -> tuple[int, int] | None:
        """A piece of an entity between breaks (``_NOT_IN_A_NAME``), without the words at a
        break that are no name (a stop word, a common word, an English word that is no
        listed name): they belong to the other record. None when no word is left."""
        if not (after_break or before_break):
            return start, end
        words = list(NAME_WORD.finditer(text, start, end))
        while after_break and words and self._not_a_name(words[0].group()):
            words.pop(0)
        while before_break and words and self._not_a_name(words[-1].group()):
            words.pop()
        if not words:
            return None
        return (
            words[0].start() if after_break else start,
            words[-1].end() if before_break else end,
        )

    def _not_a_name(self, word: str) -> bool:
        folded = word.casefold()
        if folded in self._common_folded or word.lower() in self._stop_words:
            return True
        return self._listed is not None and self._listed.is_thing(folded)

    def _refutes(self, text: str, span: Span) -> bool:
        """Whether ``span`` is a PERSON the name lists show to be a thing (``Georgia
        Bag``), as NER found it or as it grew over the words after it."""
        if span.entity != PERSON or self._listed is None:
            return False
        return self._listed.refutes(text[span.start : span.end])

    def _remember(self, text: str, spans: tuple[Span, ...]) -> None:
        if len(text) > NER_CACHE_MAX_CHARS:
            return
        self._found.put(text, spans)

    def clear_cache(self) -> None:
        self._found.clear()
        self._listed_found.clear()
        self._extended.clear()
        self._windows.clear()
        self._whole_names.clear()

    def known_whole_names(self, values: Sequence[str]) -> list[bool | None]:
        """What :meth:`is_person` answered before for each value; None where it has not."""
        return [self._whole_names.get(given_name_first(value)) for value in values]

    def is_person(self, values: Sequence[str]) -> list[bool]:
        """For short values (a column sample): is the whole value a name? The name lists
        answer first; NER reads the rest, and a PERSON the lists refute does not count."""
        texts = [given_name_first(value) for value in values]
        known = [self._whole_names.get(text) for text in texts]
        unknown = [text for text, flag in zip(texts, known, strict=True) if flag is None]
        answers = dict(zip(unknown, self._are_whole_names(unknown), strict=True))
        for text, flag in answers.items():
            self._whole_names.put(text, flag)
        return [
            answers[text] if flag is None else flag for text, flag in zip(texts, known, strict=True)
        ]

    def _are_whole_names(self, texts: list[str]) -> list[bool]:
        """The name lists first; a value in lower case, which NER cannot read, is a name
        when it is a listed given and family name; NER reads the rest."""
        flags = [_mostly_named(text, self.listed(text)) for text in texts]
        for index, text in enumerate(texts):
            if not flags[index] and text.islower() and self._listed is not None:
                flags[index] = self._listed.is_full_name(text)
        unsure = [i for i, flag in enumerate(flags) if not flag and not texts[i].islower()]
        if not unsure:
            return flags
        nlp = self._pipeline()
        with self._lock:
            docs = list(nlp.pipe([texts[i] for i in unsure], batch_size=NER_BATCH_SIZE))
        for index, doc in zip(unsure, docs, strict=True):
            text = texts[index]  # what ``doc.text`` joins again from the tokens at each read
            people = [
                span
                for e in doc.ents
                if e.label_ == PERSON
                for span in self._ner_spans(text, e.start_char, e.end_char, PERSON)
            ]
            flags[index] = _mostly_named(text, [p for p in people if not self._refutes(text, p)])
        return flags


@lru_cache(maxsize=1)
def _other_stop_words() -> frozenset[str]:
    """The stop words of ``OTHER_LANGUAGES`` that are no English stop words."""
    from spacy.lang.en.stop_words import STOP_WORDS as ENGLISH

    words: set[str] = set()
    for language in OTHER_LANGUAGES:
        module = importlib.import_module(f"spacy.lang.{language}.stop_words")
        words |= {word.casefold() for word in module.STOP_WORDS}
    return frozenset(words - {word.casefold() for word in ENGLISH})


def _ner_span(text: str, start: int, end: int, entity_type: str) -> Span | None:
    """NER's entity without the quotes and brackets it takes in at its edges (in ``'Jane
    Roe'`` it finds ``Jane Roe'``): hidden behind the placeholder, the closing quote would be
    lost, and the identifier ``jane roe'`` is one a subject access request for Jane Roe never
    finds. None when nothing is left."""
    while start < end and text[start] in _NOT_AN_ENTITY_EDGE:
        start += 1
    while end > start and text[end - 1] in _NOT_AN_ENTITY_EDGE:
        end -= 1
    return Span(start, end, entity_type, 0.85) if start < end else None


def _window_end(words: list[re.Match[str]], index: int) -> int:
    """The last word of the window around ``index``: a few words on, but not past the end
    of its sentence. The next sentence costs NER as much as this one and, measured on
    names without cue words, does not change what it finds (the previous one does)."""
    last = min(len(words) - 1, index + WINDOW_WORDS_AFTER)
    for position in range(index, last):
        if _ends_sentence(words[position].group()):
            return position
    return last


def _ends_sentence(token: str) -> bool:
    """A word ending in ``.``, ``!`` or ``?`` with three letters or more: ``Mr.`` or ``C.``
    (an abbreviation, an initial) does not end a sentence."""
    text = token.rstrip(_CLOSING)
    return text[-1:] in (".", "!", "?") and sum(ch.isalpha() for ch in text) >= 3


def load_ner_pipeline(model: str) -> Any:
    """Load an installed spaCy package or model directory; never download anything.

    The model's objects live as long as the process, so they are moved out of the
    garbage collector's reach (``gc.freeze``): otherwise each full collection walks them
    again, a pause of about 70 ms in the middle of some unrelated result.

    Its matrix products go through numpy's BLAS, limited to one thread for the process,
    instead of thinc's default blis: NER is the only BLAS user of a gateway process, and
    on the NER's shapes OpenBLAS on one thread is 2.4-4 times faster than blis, which
    takes a quarter off NER (docs/masking.md). A second BLAS thread saves a little more
    time but costs more CPU than it saves on a shared machine.
    """
    import spacy
    from thinc.api import get_current_ops, set_current_ops
    from threadpoolctl import threadpool_limits

    default_ops = get_current_ops()
    set_current_ops(_numpy_blas_ops())  # the model's layers keep the ops they are made with
    try:
        nlp = spacy.load(model)
    except (OSError, ImportError) as exc:
        raise MaskingError(
            f"spaCy model {model!r} is not installed (nbwarden never downloads models): "
            f"{type(exc).__name__}"
        ) from None
    finally:
        set_current_ops(default_ops)
    threadpool_limits(1, user_api="blas")
    if "ner" not in nlp.pipe_names:
        raise MaskingError(f"spaCy model {model!r} has no 'ner' component")
    keep = {"ner"}
    for name, component in nlp.pipeline:
        if "ner" in getattr(component, "listening_components", ()):
            keep.add(name)
    nlp.select_pipes(enable=sorted(keep))
    gc.freeze()
    return nlp


def _numpy_blas_ops() -> Any:
    """thinc's numpy ops with the matrix product of thinc's base ops (``numpy.dot``, so
    numpy's BLAS) in place of blis. Made on use: thinc is slow to import."""
    from thinc.api import NumpyOps, Ops

    class NumpyBlasOps(NumpyOps):  # type: ignore[misc]
        gemm = Ops.gemm

    return NumpyBlasOps()


def _mostly_named(text: str, spans: Sequence[Span]) -> bool:
    named = sum(span.end - span.start for span in spans if span.entity == PERSON)
    return named >= 0.6 * len(text.strip())


_TextSpans = tuple[str, tuple[Span, ...]]
_Key = TypeVar("_Key")
_Answer = TypeVar("_Answer")


def _memo(
    cache: BoundedCache[_Key, _Answer], key: _Key, text: str, compute: Callable[[], _Answer]
) -> _Answer:
    """``compute()``, an answer about ``text``, cached under ``key`` when the text is short
    enough to cache."""
    found = cache.get(key)
    if found is None:
        found = compute()
        if len(text) <= NER_CACHE_MAX_CHARS:
            cache.put(key, found)
    return found


def covered_characters(text: str, spans: Iterable[Span]) -> bytearray:
    """A byte per character of ``text``, 1 where one of ``spans`` covers it: whether a
    word starts inside a span is then one look-up, not a pass over the spans (a long
    text holds thousands)."""
    taken = bytearray(len(text))
    for span in spans:
        taken[span.start : span.end] = b"\x01" * (span.end - span.start)
    return taken
