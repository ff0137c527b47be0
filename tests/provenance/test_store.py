"""Recording, reading back, DSAR precision/recall and the no-raw-personal-data guarantee."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from faker import Faker

from nbwarden.config import AuditConfig
from nbwarden.identifiers import EMAIL, PERSON, PHONE, normalize_identifier
from nbwarden.identifiers import SWEDISH_PERSONAL_NUMBER as SE
from nbwarden.masking import Masker
from nbwarden.provenance import (
    ApprovalEvent,
    ExecutionEnd,
    ExecutionStart,
    ProvenanceError,
    ProvenanceStore,
    Subject,
)
from tests.provenance.history import SOURCE_COLUMNS, make_people, record_history, sample_start


def test_start_and_end_read_back_as_one_execution(store: ProvenanceStore) -> None:
    execution_id = store.record_start(sample_start("alice", approval_id="ap-1"))
    assert (store.get_execution(execution_id) or {}).get("status") == "started"
    store.record_end(
        execution_id,
        ExecutionEnd(status="ok", rows=2, entity_counts={EMAIL: 2}, source_columns=SOURCE_COLUMNS),
    )
    record = store.get_execution(execution_id)
    assert record is not None
    assert record["user"] == "alice"
    assert record["status"] == "ok"
    assert record["rows_returned"] == 2
    assert record["entity_counts"] == {EMAIL: 2}
    assert record["tables_read"] == ["customers"]
    assert record["approval_id"] == "ap-1"
    assert record["ended_at"] >= record["started_at"]


def test_end_of_unknown_or_ended_execution_is_refused(store: ProvenanceStore) -> None:
    with pytest.raises(ProvenanceError, match="not open"):
        store.record_end("no-such-id", ExecutionEnd(status="ok"))
    execution_id = store.record_start(sample_start())
    with pytest.raises(ProvenanceError, match="unknown execution status"):
        store.record_end(execution_id, ExecutionEnd(status="fine"))
    store.record_end(execution_id, ExecutionEnd(status="blocked"))
    with pytest.raises(ProvenanceError, match="not open"):
        store.record_end(execution_id, ExecutionEnd(status="ok"))


def test_search_filters_and_stats(store: ProvenanceStore) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    first = store.record_start(sample_start("alice", started_at=old))
    store.record_end(first, ExecutionEnd(status="ok", entity_counts={EMAIL: 3, PHONE: 1}))
    second = store.record_start(sample_start("bob", target="warehouse", tables_read=("orders",)))
    store.record_end(second, ExecutionEnd(status="error", error="relation does not exist"))
    assert [e["id"] for e in store.search_executions(user="alice")] == [first]
    assert [e["id"] for e in store.search_executions(connection="warehouse")] == [second]
    assert [e["id"] for e in store.search_executions(table="orders")] == [second]
    assert [e["id"] for e in store.search_executions(status="error")] == [second]
    recent = store.search_executions(since=datetime.now(UTC) - timedelta(days=1))
    assert [e["id"] for e in recent] == [second]
    stats = store.stats()
    assert stats["masked_by_entity"] == {EMAIL: 3, PHONE: 1}
    assert sum(day["count"] for day in stats["executions_per_day"]) == 2


def test_approval_events_replay_in_order_with_turnaround(store: ProvenanceStore) -> None:
    asked = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    events = [
        ApprovalEvent("ap-1", "request", "pending", "alice", asked, {"code_hash": "ab"}),
        ApprovalEvent("ap-2", "request", "pending", "bob", asked, {}),
        ApprovalEvent("ap-1", "request", "approved", "dpo", asked + timedelta(minutes=4), {}),
        ApprovalEvent("g-1", "grant", "active", "dpo", asked, {"minutes": 30}),
    ]
    for event in events:
        store.record_approval(event)
    replay = store.approval_events()
    assert [(e.approval_id, e.state) for e in replay] == [(e.approval_id, e.state) for e in events]
    assert replay[0].details == {"code_hash": "ab"}
    assert replay[2].time == datetime(2026, 3, 1, 9, 4)
    assert store.stats()["approval_turnaround_s"]["median"] == 240


def test_dsar_has_precision_and_recall_of_one(store: ProvenanceStore) -> None:
    history = record_history(store, executions=120, people=40)
    for person in history.people:
        expected = history.seen_by.get(person.email, set())
        by_email = {e["execution_id"] for e in store.dsar([(EMAIL, person.email.upper())])}
        by_phone = {e["execution_id"] for e in store.dsar([(PHONE, person.phone)])}
        by_name = {e["execution_id"] for e in store.dsar([(PERSON, f"  {person.name.lower()} ")])}
        assert by_email == expected
        assert by_phone == expected
        assert by_name == expected


def test_dsar_entry_names_who_why_where_and_whether_shown(store: ProvenanceStore) -> None:
    person = make_people(1)[0]
    execution_id = store.record_start(sample_start("carol"))
    store.record_end(
        execution_id,
        ExecutionEnd(
            status="ok",
            subjects=person.subjects(("email", "phone", "name")),
            source_columns=SOURCE_COLUMNS,
            unmasked_columns=("email",),
        ),
    )
    [entry] = store.dsar([(EMAIL, person.email), (PHONE, person.phone)])
    assert entry["execution_id"] == execution_id
    assert entry["user"] == "carol"
    assert entry["purpose"] == "churn study"
    assert entry["legal_basis"] == "legitimate interest"
    assert entry["notebook"] == "churn.ipynb"
    assert entry["cell_id"] == "cell-1"
    assert entry["categories"] == [EMAIL, PHONE]
    assert entry["sources"] == ["customers.email", "customers.phone"]
    assert entry["shown"] == "partly shown"
    assert store.dsar([(EMAIL, "nobody@example.invalid")]) == []


def test_dsar_for_a_name_finds_records_indexed_with_its_title_or_suffix(
    store: ProvenanceStore,
) -> None:
    """Until 2026-12-07 a name column's ``Dr. Gary Thompson Jr.`` was indexed as written
    (folded); the name normaliser now leaves titles and suffixes out, and a request for the
    name looks up the forms older records hold too."""
    fake = Faker()
    fake.seed_instance(1208)
    given, family = fake.first_name(), fake.last_name()
    core = f"{given} {family}".lower()
    older_forms = [f"dr. {core} jr.", f"mrs {core}", f"{core}, m.d.", core]
    ids = []
    for form in [*older_forms, f"{core}son"]:
        execution_id = store.record_start(sample_start("dave"))
        subjects = [Subject(PERSON, form, "name")]
        store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
        ids.append(execution_id)
    for request in (f"{given} {family}", f"Dr. {given} {family} Jr.", f"{family}, {given}"):
        found = [entry["execution_id"] for entry in store.dsar([(PERSON, request)])]
        assert sorted(found) == sorted(ids[:4])


def test_dsar_for_an_address_finds_it_with_any_subaddress(store: ProvenanceStore) -> None:
    """``jane+shop@example.org`` is the mailbox ``jane@example.org``; records written before
    2026-12-07 hold the tagged form, which a request giving it still finds."""
    fake = Faker()
    fake.seed_instance(1209)
    user, domain = fake.user_name(), fake.free_email_domain()
    older, newer = f"{user}+shop@{domain}", normalize_identifier(EMAIL, f"{user}+news@{domain}")
    ids = []
    for identifier in (older, newer):
        execution_id = store.record_start(sample_start("erin"))
        subjects = [Subject(EMAIL, identifier, "email")]
        store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
        ids.append(execution_id)
    by_tagged = store.dsar([(EMAIL, f"{user.upper()}+Shop@{domain}")])
    assert sorted(entry["execution_id"] for entry in by_tagged) == sorted(ids)
    assert [entry["execution_id"] for entry in store.dsar([(EMAIL, f"{user}@{domain}")])] == [
        ids[1]
    ]


def test_dsar_for_an_address_finds_it_as_found_in_single_quotes(store: ProvenanceStore) -> None:
    """The masker took the quote before ``'jane@example.org'`` (a grep, a log line, a
    Python repr) into the address until the third session of 2026-12-07: such records hold
    ``'jane@example.org``, which a request for the address still finds."""
    fake = Faker()
    fake.seed_instance(1211)
    address = fake.email()
    ids = []
    for identifier in (f"'{address}", normalize_identifier(EMAIL, address)):
        execution_id = store.record_start(sample_start("erin"))
        subjects = [Subject(EMAIL, identifier, "email")]
        store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
        ids.append(execution_id)
    found = [entry["execution_id"] for entry in store.dsar([(EMAIL, address.upper())])]
    assert sorted(found) == sorted(ids)


def test_dsar_for_a_personnummer_finds_it_with_or_without_its_century(
    store: ProvenanceStore,
) -> None:
    """Skatteverket writes ``19880320-0016``, many registers ``880320-0016``: one person.
    Older records hold the number as written."""
    fake = Faker("sv_SE")
    fake.seed_instance(1210)
    twelve = fake.ssn(long=True)
    ten = twelve[2:]
    written = [twelve.replace("-", ""), ten.replace("-", ""), normalize_identifier(SE, ten)]
    ids = []
    for identifier in written:
        execution_id = store.record_start(sample_start("fred"))
        subjects = [Subject(SE, identifier, "personnummer")]
        store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
        ids.append(execution_id)
    for request in (twelve, ten):
        found = [entry["execution_id"] for entry in store.dsar([(SE, request)])]
        assert sorted(found) == sorted(ids)


def test_a_dsar_names_one_person(store: ProvenanceStore) -> None:
    """Each name is looked up in thousands of forms: a request is bounded."""
    people = make_people(21)
    with pytest.raises(ProvenanceError, match="at most 20"):
        store.dsar([(PERSON, person.name) for person in people])
    assert store.dsar([(PERSON, person.name) for person in people[:20]]) == []


def test_subjects_seen_by_user_in_period_as_pseudonyms(store: ProvenanceStore) -> None:
    history = record_history(store, executions=40, people=15)
    report = store.subjects_seen("alice", datetime.now(UTC) - timedelta(hours=1))
    alice_runs = {i for i, user in history.user_of.items() if user == "alice"}
    people_seen = {email for email, ids in history.seen_by.items() if ids & alice_runs}
    assert report["executions"] == len(alice_runs)
    assert report["by_entity_type"] == {
        EMAIL: len(people_seen),
        PERSON: len(people_seen),
        PHONE: len(people_seen),
    }
    text = repr(report)
    assert all(person.email not in text for person in history.people)
    assert (
        store.subjects_seen("alice", until=datetime.now(UTC) - timedelta(days=1))["subjects"] == 0
    )


def test_store_file_holds_no_raw_personal_data(audit: AuditConfig) -> None:
    with ProvenanceStore(audit) as store:
        history = record_history(store, executions=30, people=12)
        store.record_approval(ApprovalEvent("ap-9", "request", "pending", "alice"))
    planted = {v for p in history.people for v in (p.email, p.phone, p.name)}
    planted |= {p.email.lower() for p in history.people} | {p.name.lower() for p in history.people}
    con = duckdb.connect(str(audit.path), read_only=True)
    columns = con.execute(
        """SELECT table_name, column_name FROM information_schema.columns
           WHERE data_type = 'VARCHAR' AND table_schema = 'main'"""
    ).fetchall()
    assert len(columns) > 30
    for table, column in columns:
        values = {row[0] for row in con.execute(f'SELECT "{column}" FROM "{table}"').fetchall()}
        text = "\n".join(v for v in values if v)
        leaked = [value for value in planted if value in text]
        assert not leaked, f"{table}.{column} holds planted personal data"
    con.close()
    raw = audit.path.read_bytes()
    assert not [value for value in planted if value.encode() in raw]


def test_key_file_is_created_private_and_is_not_in_the_store(audit: AuditConfig) -> None:
    ProvenanceStore(audit).close()
    assert stat.S_IMODE(audit.key_file.stat().st_mode) == 0o600
    key_hex = audit.key_file.read_text().strip()
    assert key_hex.encode() not in audit.path.read_bytes()


def test_second_store_on_the_same_file_is_refused(
    store: ProvenanceStore, audit: AuditConfig
) -> None:
    with pytest.raises(ProvenanceError, match="already open"):
        ProvenanceStore(audit)


def test_read_only_store_refuses_writes_and_missing_files(audit: AuditConfig) -> None:
    with pytest.raises(ProvenanceError, match="does not exist"):
        ProvenanceStore(audit, read_only=True)
    ProvenanceStore(audit).close()
    with ProvenanceStore(audit, read_only=True) as reader:
        with pytest.raises(ProvenanceError, match="read-only"):
            reader.record_start(sample_start())
        assert reader.verify().ok


def test_subject_identity_is_keyed_by_type(store: ProvenanceStore) -> None:
    execution_id = store.record_start(sample_start())
    store.record_end(
        execution_id, ExecutionEnd(status="ok", subjects=[Subject("US_SSN", "123456789", "ssn")])
    )
    assert len(store.dsar([("US_SSN", "123-45-6789")])) == 1
    assert store.dsar([("PHONE_NUMBER", "123456789")]) == []
    assert store.dsar([("EMAIL_ADDRESS", "123456789")]) == []
    assert len(store.dsar([("NL_BSN", "123456789")])) == 1, "an ID may be masked as another"


def test_subject_hmac_is_the_keyed_hash_of_type_and_identifier(
    store: ProvenanceStore, audit: AuditConfig
) -> None:
    from nbwarden.keys import SUBJECT_INDEX, derive_key, keyed_hash, load_master_key

    key = derive_key(load_master_key(audit.key_file), SUBJECT_INDEX)
    expected = keyed_hash(key, "EMAIL_ADDRESS\x1fjane@example.org")
    assert store.subject_hmac("EMAIL_ADDRESS", "jane@example.org") == expected


def test_every_field_lands_in_its_own_column(store: ProvenanceStore) -> None:
    """The writer builds rows positionally; a field in the wrong column must show here."""
    start = ExecutionStart(
        user="u-user",
        kind="shell",
        target="t-target",
        code_masked="c-code",
        code_hash="h-hash",
        roles=("r-role",),
        kernel_id="k-kernel",
        session_id="s-session",
        notebook="n-notebook",
        cell_id="c-cell",
        execution_count=41,
        purpose="p-purpose",
        legal_basis="l-basis",
        statement_types=("st-type",),
        tables_read=("tr-table",),
        tables_written=("tw-table",),
        columns_read=("cr-column",),
        columns_written=("cw-column",),
        verdict="v-verdict",
        rule_ids=("ri-rule",),
        approval_id="a-approval",
        started_at=datetime(2026, 2, 3, 4, 5, 6),
    )
    execution_id = store.record_start(start)
    store.record_end(
        execution_id,
        ExecutionEnd(
            status="withheld",
            rows=42,
            entity_counts={EMAIL: 43},
            source_columns={"mail": "customers.email"},
            unmasked_columns=("uc-column",),
            unmasked_entities=("ue-entity",),
            error="e-error",
            ended_at=datetime(2026, 2, 3, 4, 5, 7),
        ),
    )
    record = store.get_execution(execution_id) or {}
    expected = {
        "user": "u-user",
        "kind": "shell",
        "target": "t-target",
        "code_masked": "c-code",
        "code_hash": "h-hash",
        "roles": ["r-role"],
        "kernel_id": "k-kernel",
        "session_id": "s-session",
        "notebook": "n-notebook",
        "cell_id": "c-cell",
        "execution_count": 41,
        "purpose": "p-purpose",
        "legal_basis": "l-basis",
        "statement_types": ["st-type"],
        "tables_read": ["tr-table"],
        "tables_written": ["tw-table"],
        "columns_read": ["cr-column"],
        "columns_written": ["cw-column"],
        "verdict": "v-verdict",
        "rule_ids": ["ri-rule"],
        "approval_id": "a-approval",
        "status": "withheld",
        "rows_returned": 42,
        "entity_counts": {EMAIL: 43},
        "source_columns": {"mail": "customers.email"},
        "unmasked_columns": ["uc-column"],
        "unmasked_entities": ["ue-entity"],
        "subject_count": 0,
        "error_masked": "e-error",
    }
    assert {key: record.get(key) for key in expected} == expected
    assert str(record["started_at"]).startswith("2026-02-03")
    assert str(record["ended_at"]).startswith("2026-02-03")


def test_dsar_for_a_login_name_finds_the_log_line_it_was_masked_in(
    store: ProvenanceStore,
) -> None:
    fake = Faker()
    fake.seed_instance(1212)
    user = fake.user_name()
    line = f"sshd[812]: Accepted publickey for {user} from 203.0.113.9 port 52144 ssh2"
    masked = Masker.for_profile("default").mask_output(line)
    subjects = [Subject(s.entity_type, s.identifier, s.column) for s in masked.subjects]
    execution_id = store.record_start(sample_start("gina"))
    store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
    found = [entry["execution_id"] for entry in store.dsar([("USER_NAME", user)])]
    assert found == [execution_id]


def test_dsar_finds_a_patient_of_an_hl7_message_by_name_and_record_number(
    store: ProvenanceStore,
) -> None:
    fake = Faker()
    fake.seed_instance(1213)
    given, family, mrn = fake.first_name(), fake.last_name(), str(fake.random_number(8, True))
    message = f"MSH|^~\\&|ADT1|HOSP\rPID|1||{mrn}^^^HOSP^MR||{family.upper()}^{given.upper()}\r"
    masked = Masker.for_profile("default").mask_output(message)
    subjects = [Subject(s.entity_type, s.identifier, s.column) for s in masked.subjects]
    execution_id = store.record_start(sample_start("hana"))
    store.record_end(execution_id, ExecutionEnd(status="ok", rows=1, subjects=subjects))
    for request in ((PERSON, f"{given} {family}"), ("PATIENT_ID", mrn)):
        assert [entry["execution_id"] for entry in store.dsar([request])] == [execution_id]


def test_two_ip_addresses_with_the_same_digits_are_two_subjects(store: ProvenanceStore) -> None:
    """Without its dots, ``203.0.113.9`` was ``20.30.1.139``: one subject, one pseudonym,
    and a request for the one listed the cells of the other. A record written so before
    is still found by its own address."""
    masked = Masker.for_profile("default").mask_text("from 203.0.113.9 and 20.30.1.139")
    assert len(set(masked.text.split()) - {"from", "and"}) == 2
    assert {s.identifier for s in masked.subjects} == {"203.0.113.9", "20.30.1.139"}
    subjects = [Subject("IP_ADDRESS", "20.30.1.139", None)]
    other = store.record_start(sample_start("ida"))
    store.record_end(other, ExecutionEnd(status="ok", rows=1, subjects=subjects))
    legacy = store.record_start(sample_start("ida"))
    old_form = [Subject("IP_ADDRESS", "20301139", None)]
    store.record_end(legacy, ExecutionEnd(status="ok", rows=1, subjects=old_form))
    found = [entry["execution_id"] for entry in store.dsar([("IP_ADDRESS", "203.0.113.9")])]
    assert found == [legacy]
